"""What a first layer's `input_shape` of the wrong length does (KC017 input-shape-rank).

TF 2.21 / keras 3.15 / tf_keras 2.21. For each layer and `input_shape`: where it fails (building
the Sequential model, fit) and with what error, or that it builds, with the model's input shape.
Output beside this file (.out).
"""
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras  # noqa: E402


def clean(exc):
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())[:140]


CASES = [
    ("Conv2D(8, 3)", "input_shape=(28, 28)", (28, 28)),             # grayscale without the channel axis
    ("Conv2D(8, 3)", "input_shape=(None, 28, 28, 1)", (28, 28, 1)),  # batch dimension included
    ("Conv2D(8, 3)", "input_shape=(28, 28, 1)", (28, 28, 1)),        # right
    ("Conv1D(8, 3)", "input_shape=(100,)", (100,)),                  # features without a channel axis
    ("Conv1D(8, 3)", "input_shape=(100, 1)", (100, 1)),              # right
    ("LSTM(8)", "input_shape=(10,)", (10,)),                         # features without timesteps
    ("LSTM(8)", "input_shape=(None, 10, 5)", (10, 5)),               # batch dimension included
    ("LSTM(8)", "input_shape=(None, 5)", (7, 5)),                    # right: variable length
    ("MaxPooling2D()", "input_shape=(28, 28)", (28, 28)),
    ("Conv3D(4, 3)", "input_shape=(16, 16, 16)", (16, 16, 16)),
    ("LSTM(8)", "input_dim=5", (7, 5)),                              # Keras 1/2 spelling
    ("Conv1D(8, 3)", "input_dim=1", (100, 1)),
]


def run(K, layer, kw, data_shape):
    L = K.layers  # noqa: F841 - used by eval
    try:
        first = eval(f"L.{layer[:-1]}{', ' if layer[-2] != '(' else ''}{kw})")  # noqa: S307
        model = K.Sequential([first, L.Flatten(), L.Dense(1)])
    except Exception as exc:  # noqa: BLE001
        return f"building: {type(exc).__name__}: {clean(exc)}"
    try:
        shape = model.input_shape
    except Exception:  # noqa: BLE001
        shape = "(not built)"
    try:
        model.compile("adam", "mse")
        model.fit(np.zeros((4, *data_shape), "float32"), np.zeros((4, 1)), verbose=0)
    except Exception as exc:  # noqa: BLE001
        return f"builds with input {shape}; fit on data {(4, *data_shape)}: {type(exc).__name__}: {clean(exc)}"
    return f"builds with input {shape}; fits data {(4, *data_shape)}"


for K in (keras, tf_keras):
    print(f"== {K.__name__} {K.__version__}")
    for layer, kw, data in CASES:
        print(f"{layer:15s} {kw:30s}: {run(K, layer, kw, data)}")
