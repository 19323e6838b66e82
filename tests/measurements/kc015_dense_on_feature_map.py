"""A classifier head (Dense) applied to an unflattened feature map (KC015 dense-on-feature-map).

TF 2.21 / keras 3.15 / tf_keras 2.21. Per-sample labels (one per example, as a classifier has),
models that forget the Flatten/GlobalPooling:
  1D: Conv1D(8, 3) -> Dense(1, sigmoid) on (N, 20, 1), labels (N, 1), loss BCE / MSE
  2D: Conv2D(8, 3) -> MaxPooling2D -> Dense(16, relu) -> Dense(4, softmax) on (N, 12, 12, 1),
      labels one-hot (N, 4) with categorical CE, integer (N,) with sparse categorical CE
  2D binary: Conv2D(8, 3) -> MaxPooling2D -> Dense(1, sigmoid), labels (N, 1), BCE
For each: does fit() raise (and with what), the model's output shape, the loss and the
`accuracy` metric it reports after 5 epochs, and the same model with a Flatten for comparison.
Synthetic data with a learnable label; fixed seeds. Output beside this file (.out).
"""
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras  # noqa: E402


def clean(exc):
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    if "in user code" in text:  # tf_keras: the traceback of the graph function, then the error
        text = [line for line in text.splitlines() if line.strip()][-1]
    return " ".join(text.split())[:150]


rng = np.random.RandomState(0)
x1 = rng.normal(size=(512, 20, 1)).astype("float32")
y1 = (x1[:, :10, 0].mean(axis=1) > 0).astype("float32").reshape(-1, 1)
x2 = rng.normal(size=(512, 12, 12, 1)).astype("float32")
cls = np.argmax(np.stack([x2[:, :6, :6].mean((1, 2, 3)), x2[:, :6, 6:].mean((1, 2, 3)),
                          x2[:, 6:, :6].mean((1, 2, 3)), x2[:, 6:, 6:].mean((1, 2, 3))], 1), 1)
onehot = np.eye(4, dtype="float32")[cls]


def model_1d(K, flatten):
    L = K.layers
    return K.Sequential([L.Conv1D(8, 3, activation="relu", input_shape=(20, 1)),
                         *([L.Flatten()] if flatten else []), L.Dense(1, activation="sigmoid")])


def model_2d(K, flatten):
    L = K.layers
    return K.Sequential([L.Conv2D(8, 3, activation="relu", input_shape=(12, 12, 1)), L.MaxPooling2D(),
                         *([L.Flatten()] if flatten else []), L.Dense(16, activation="relu"),
                         L.Dense(4, activation="softmax")])


def model_2d_binary(K, flatten):
    L = K.layers
    return K.Sequential([L.Conv2D(8, 3, activation="relu", input_shape=(12, 12, 1)), L.MaxPooling2D(),
                         *([L.Flatten()] if flatten else []), L.Dense(1, activation="sigmoid")])


def run(K, build, loss, x, y):
    K.utils.set_random_seed(0)
    out = {}
    for flatten in (False, True):
        m = build(K, flatten)
        m.compile(K.optimizers.Adam(1e-2), loss, metrics=["accuracy"])
        try:
            hist = m.fit(x, y, epochs=5, batch_size=64, verbose=0)
            out[flatten] = (f"output {tuple(m.output_shape)}, loss {hist.history['loss'][-1]:.3f}, "
                            f"reported accuracy {hist.history['accuracy'][-1]:.3f}")
        except Exception as exc:  # noqa: BLE001
            out[flatten] = f"output {tuple(m.output_shape)}, fit raises {type(exc).__name__}: {clean(exc)}"
    return out


CASES = [
    ("1D Conv1D -> Dense(1, sigmoid), BCE, labels (N, 1)", model_1d, "binary_crossentropy", x1, y1),
    ("1D Conv1D -> Dense(1, sigmoid), MSE, labels (N, 1)", model_1d, "mse", x1, y1),
    ("2D Conv2D -> Pool -> Dense -> Dense(4, softmax), categorical CE, one-hot (N, 4)", model_2d,
     "categorical_crossentropy", x2, onehot),
    ("2D same, sparse categorical CE, labels (N,)", model_2d, "sparse_categorical_crossentropy", x2, cls),
    ("2D Conv2D -> Pool -> Dense(1, sigmoid), BCE, labels (N, 1) (class 0 or not)", model_2d_binary,
     "binary_crossentropy", x2, (cls == 0).astype("float32").reshape(-1, 1)),
]
for K in (keras, tf_keras):
    print(f"== {K.__name__} {K.__version__}")
    for name, build, loss, x, y in CASES:
        got = run(K, build, loss, x, y)
        print(f"{name}\n    no Flatten  : {got[False]}\n    with Flatten: {got[True]}")
