"""What implausible learning rates do to training (KC021 implausible-learning-rate).

TF 2.21 / keras 3.15 / tf_keras 2.21. A small classifier (Input(8) -> Dense(64, relu) ->
Dense(64, relu) -> Dense(3, softmax), categorical CE) on 3 Gaussian classes (1,200 points,
standardised), 20 epochs of batch 32 (760 steps), fixed seed. (With a single hidden layer of 32
the task is forgiving enough that Adam at 1.5-2 ends only 1.4x above its default loss; with two
it is what models usually are.) For each optimizer and learning rate: the loss before
training, the final training loss (nan when it diverged) and accuracy. Also what an int learning
rate and `lr=` do.
Output beside this file (.out).
"""
import math
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras  # noqa: E402

rng = np.random.RandomState(0)
centers = rng.normal(0, 1.5, size=(3, 8))
y = rng.randint(0, 3, size=1200)
x = (centers[y] + rng.normal(size=(1200, 8))).astype("float32")
x = (x - x.mean(0)) / x.std(0)
onehot = np.eye(3, dtype="float32")[y]

CASES = [
    ("Adam", [1e-3, 0.3, 1.0, 2.0, 10.0, 1e-6, 1e-7, 1e-8, 0.0]),
    ("RMSprop", [1e-3, 1.0, 10.0]),
    ("Adagrad", [1e-3, 1.0, 10.0]),
    ("Adamax", [1e-3, 1.0, 10.0]),
    ("Nadam", [1e-3, 1.0, 10.0]),
    ("AdamW", [1e-3, 1.0]),
    ("SGD", [1e-2, 0.1, 1.0, 2.0, 5.0, 10.0, 1e-7]),
    ("Adadelta", [1e-3, 1.0, 1e-7]),
]


def train(K, name, lr):
    K.utils.set_random_seed(0)
    L = K.layers
    model = K.Sequential([K.Input((8,)), L.Dense(64, activation="relu"), L.Dense(64, activation="relu"),
                          L.Dense(3, activation="softmax")])
    model.compile(getattr(K.optimizers, name)(learning_rate=lr), "categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=37)
    start = model.evaluate(x, onehot, verbose=0)[0]
    hist = model.fit(x, onehot, epochs=20, batch_size=32, verbose=0)
    loss, acc = hist.history["loss"][-1], hist.history["accuracy"][-1]
    moved = start - loss
    return f"loss {start:.3f} -> {'nan' if math.isnan(loss) else f'{loss:.3g}'} (moved {moved:+.2g}), accuracy {acc:.3f}"


for K in (keras, tf_keras):
    print(f"== {K.__name__} {K.__version__}")
    for name, rates in CASES:
        if name == "AdamW" and not hasattr(K.optimizers, "AdamW"):
            continue
        for lr in rates:
            print(f"{name:8s} learning_rate={lr:<7g}: {train(K, name, lr)}")
    for spelling in ("Adam(learning_rate=1)", "Adam(1)", "SGD(learning_rate=10)"):
        try:
            opt = eval(f"K.optimizers.{spelling}")  # noqa: S307
            print(f"{spelling}: an int is accepted; learning_rate = {float(opt.learning_rate.numpy()):g}")
        except Exception as exc:  # noqa: BLE001
            print(f"{spelling}: raises {type(exc).__name__}: {' '.join(str(exc).split())[:90]}")
    try:
        opt = K.optimizers.Adam(lr=10.0)
        print(f"Adam(lr=10.0): no error; learning_rate = {float(opt.learning_rate.numpy()):g}")
    except Exception as exc:  # noqa: BLE001
        print(f"Adam(lr=10.0): raises {type(exc).__name__}: {' '.join(re.sub(chr(27) + '[^m]*m', '', str(exc)).split())[:100]}")
