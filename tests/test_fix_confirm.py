"""Every fixed form runs on Keras 3: a Keras 2 program goes through `--fix --unsafe-fixes`, and the
result is executed with TensorFlow and Keras 3 (one process, about 30 s). Each section of the
program exercises one fix; the run reports each section, and every one must pass."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import invoke

pytestmark = pytest.mark.confirm

KERAS2_PROGRAM = '''
import os
import tempfile

import numpy as np
import tensorflow as tf
import keras
from keras import backend as K
from keras import layers, regularizers
from keras.layers.merge import concatenate

X = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
Y = (X[:, :1] > 0).astype("float32")
T = tf.constant([[-1.5, 0.0, 2.0], [3.0, -0.5, 0.5]])
RESULTS = {}


def gen():
    while True:
        yield X, Y


def xgen():
    while True:
        yield (X,)


def section(name):
    def run(fn):
        try:
            fn()
            RESULTS[name] = "ok"
        except Exception as exc:  # noqa: BLE001
            RESULTS[name] = f"{type(exc).__name__}: {exc}"
    return run


@section("optimizer: learning rate and its decay")
def _():
    opt = keras.optimizers.SGD(lr=0.1, decay=0.5)
    v = keras.Variable(1.0)
    for _ in range(5):
        opt.apply([tf.constant(1.0)], [v])
    assert round(float(v.numpy()), 3) == 0.710, float(v.numpy())  # Keras 2's legacy decay, restored


def build():
    model = keras.Sequential()
    model.add(layers.InputLayer(input_shape=(4,)))
    model.add(layers.Dense(8, kernel_regularizer=regularizers.l2(l=0.01)))
    model.add(layers.Dropout(0.5))
    model.add(layers.BatchNormalization())
    model.add(layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer=keras.optimizers.Adam(lr=0.01), loss="binary_crossentropy")
    return model


@section("model: InputLayer shape, l2 keyword, swapped Dropout and BN, fit/evaluate/predict, epochs")
def _():
    model = build()
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "BatchNormalization", "Dropout", "Dense"]
    model.fit_generator(gen(), 2, 1, verbose=0)
    model.evaluate_generator(gen(), steps=2)
    assert model.predict_generator(xgen(), 2).shape == (64, 1)
    model.fit(X, Y, nb_epoch=1, verbose=0)


@section("save_weights to *.weights.h5")
def _():
    model = build()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        model.save_weights("weights.h5")
        assert os.listdir(folder) == ["weights.weights.h5"]


@section("merge layers from keras.layers")
def _():
    a, b = keras.Input((2,)), keras.Input((3,))
    assert tuple(concatenate([a, b]).shape) == (None, 5)
    assert tuple(keras.layers.merge.add([a, a]).shape) == (None, 2)


@section("K functions as keras.ops")
def _():
    p = tf.constant([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]])
    t = tf.constant([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    got = [K.abs(T), K.all(T > -2), K.any(T > 2), K.binary_crossentropy(t, p), K.cast(T, "int32"),
           K.categorical_crossentropy(t, p), K.cos(T), K.dtype(T), K.elu(T), K.exp(T), K.log(p), K.max(T, 1),
           K.min(T), K.ndim(T), K.prod(T, 0), K.round(T), K.sigmoid(T), K.sign(T), K.sin(T), K.softmax(T),
           K.softplus(T), K.softsign(T), K.square(T), K.squeeze(T[:, :1], 1), K.stack([T, T]), K.std(T),
           K.sum(T, axis=-1), K.tanh(T), K.transpose(T), K.var(T, keepdims=True)]
    assert len(got) == 30


class Block(keras.layers.Layer):
    def call(self, h, training=None):
        if training:
            h = tf.nn.dropout(h, 0.8)
        return h


@section("tf.nn.dropout rate=")
def _():
    out = Block()(tf.ones((1000,)), training=True)
    zeros = float(tf.reduce_mean(tf.cast(out == 0, tf.float32)))
    assert 0.15 < zeros < 0.25, zeros  # 20 % dropped: the keep probability 0.8 as meant


for name, verdict in RESULTS.items():
    print(f"{verdict == 'ok'}: {name}: {verdict}")
'''

OLD_FORMS = ("lr=", "decay=", "input_shape=", "l2(l=", "_generator(", "nb_epoch", '"weights.h5"', "layers.merge",
             "K.sum", "dropout(h, 0.8)")


def test_every_fixed_form_runs_on_keras3(tmp_path):
    path = tmp_path / "keras2_program.py"
    path.write_text(KERAS2_PROGRAM)
    fixed = invoke("check", "--no-cache", "--fix", "--unsafe-fixes", "--select", "KC001,KC005,KC008,KC023",
                   str(path), cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr  # everything in it has a fix
    text = path.read_text()
    assert not [form for form in OLD_FORMS if form in text], text
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    run = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.startswith(("True: ", "False: "))]
    assert len(lines) == 6, run.stdout
    assert all(line.startswith("True: ") for line in lines), "\n".join(lines)


def test_the_keras2_forms_fail_on_keras3_before_fixing(tmp_path):
    """The program is a fair test: unfixed, its sections fail on Keras 3."""
    path = tmp_path / "keras2_program.py"
    path.write_text(KERAS2_PROGRAM.replace("from keras.layers.merge import concatenate",
                                           "from keras.layers import concatenate"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    run = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    verdicts = dict(line.split(": ", 2)[1:] for line in run.stdout.splitlines() if line.startswith(("True", "False")))
    failing = {name for name, verdict in verdicts.items() if verdict != "ok"}
    assert len(verdicts) == 6 and failing == set(verdicts), verdicts
