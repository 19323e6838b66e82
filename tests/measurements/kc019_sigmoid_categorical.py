"""What a sigmoid output trained with (sparse) categorical cross-entropy does (KC019 sigmoid-with-categorical-loss).

TF 2.21 / keras 3.15 / tf_keras 2.21, TensorFlow backend. Input(8) -> Dense(32, relu) -> Dense(4, <last>) on
4 Gaussian classes (1,200 points, standardised, 30 % of each class's centre noise), 20 epochs of Adam(1e-3),
batch 32, fixed seed. For each set-up: the loss before and after training, the accuracy, and the rows of
`predict()`: their mean sum (a probability row sums to 1) and the mean top score.

S1  Dense(4, softmax) + categorical CE: the reference.
S2  Dense(4, sigmoid) + categorical CE (from_logits absent): what `fit` trains on the TensorFlow backend.
S3  Dense(4, sigmoid) + sparse categorical CE, integer labels.
S4  S2 with the sigmoid output hidden from the loss (`keras.ops.identity` / `tf.identity` in a custom loss):
    what the declared loss computes where Keras cannot recover the logits (JAX, PyTorch, or any op between):
    CE of the sigmoid scores renormalised to sum 1.
S5  Dense(4, sigmoid) + categorical CE, from_logits=False given explicitly (same as S2?).
Also: does Keras warn (Python warnings or the log) for S2/S3?

Run: python tests/measurements/kc019_sigmoid_categorical.py   (~1-2 min). Output beside this file (.out).
"""
import io
import logging
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
import tf_keras  # noqa: E402

print(f"versions: tensorflow {tf.__version__}, keras {keras.__version__}, tf_keras {tf_keras.__version__}")
rng = np.random.RandomState(0)
centers = rng.normal(0, 1.2, size=(4, 8))
y = rng.randint(0, 4, size=1200)
x = (centers[y] + rng.normal(size=(1200, 8))).astype("float32")
x = (x - x.mean(0)) / x.std(0)
onehot = np.eye(4, dtype="float32")[y]


def run(K, act, loss, labels, hide=False):
    K.utils.set_random_seed(0)
    L = K.layers
    model = K.Sequential([K.Input((8,)), L.Dense(32, activation="relu"), L.Dense(4, activation=act)])
    if hide:
        base = loss

        def loss(t, p):  # noqa: F811 - the declared loss on the scores, with no logits to recover
            return K.losses.categorical_crossentropy(t, tf.identity(p))

        del base
    model.compile(K.optimizers.Adam(1e-3), loss, metrics=["accuracy"])
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    logging.getLogger().addHandler(handler)
    tf.get_logger().addHandler(handler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = model.evaluate(x, labels, verbose=0)[0]
        hist = model.fit(x, labels, epochs=20, batch_size=32, verbose=0)
    logging.getLogger().removeHandler(handler)
    tf.get_logger().removeHandler(handler)
    pred = model.predict(x, verbose=0)
    acc = float((pred.argmax(1) == y).mean())
    said = [str(w.message).splitlines()[0][:90] for w in caught if "logits" in str(w.message).lower()
            or "sigmoid" in str(w.message).lower()] + [ln[:90] for ln in buf.getvalue().splitlines() if "logits" in ln]
    return (f"loss {start:.3f} -> {hist.history['loss'][-1]:.3f}, accuracy {acc:.3f}, predict rows sum "
            f"{pred.sum(1).mean():.2f} (min {pred.sum(1).min():.2f}, max {pred.sum(1).max():.2f}), "
            f"top score {pred.max(1).mean():.2f}; warnings: {said or 'none'}")


for K in (keras, tf_keras):
    print(f"== {K.__name__} {K.__version__}")
    print("S1 softmax + categorical_crossentropy:        ", run(K, "softmax", "categorical_crossentropy", onehot))
    print("S2 sigmoid + categorical_crossentropy:        ", run(K, "sigmoid", "categorical_crossentropy", onehot))
    print("S3 sigmoid + sparse_categorical_crossentropy: ", run(K, "sigmoid", "sparse_categorical_crossentropy", y))
    print("S4 sigmoid + categorical CE, logits hidden:   ", run(K, "sigmoid", "categorical_crossentropy", onehot,
                                                                 hide=True))
    print("S5 sigmoid + CategoricalCrossentropy(from_logits=False):",
          run(K, "sigmoid", K.losses.CategoricalCrossentropy(from_logits=False), onehot))
