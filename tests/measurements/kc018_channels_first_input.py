"""A channels-first `input_shape=(c, h, w)` on a channels-last Conv2D (KC018 channels-first-input-shape).

TF 2.21 / keras 3.15 / tf_keras 2.21, default image data format (channels_last).
A. Typical MNIST/CIFAR/ImageNet stacks declared (c, h, w): where they fail, or what they build
   (the first conv's kernel shows which axis it reads as channels).
B. One that builds ('same' padding and pooling): 8 epochs on 256 synthetic images whose label is
   the orientation of a bright bar at a random place, data given channels first as declared, vs
   the same data channels last with input_shape=(h, w, c). Fixed seeds; accuracy on 512 held-out
   images.
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


def mnist(K, shape, padding="valid"):
    L = K.layers
    return K.Sequential([L.Conv2D(32, (3, 3), activation="relu", padding=padding, input_shape=shape),
                         L.MaxPooling2D((2, 2)), L.Conv2D(64, (3, 3), activation="relu", padding=padding),
                         L.MaxPooling2D((2, 2)), L.Flatten(), L.Dense(4, activation="softmax")])


print("== A. stacks declared channels first")
for K in (keras, tf_keras):
    for shape, padding in (((1, 28, 28), "valid"), ((3, 32, 32), "valid"), ((3, 32, 32), "same"),
                           ((3, 224, 224), "same"), ((4, 64, 64), "same")):
        try:
            m = mnist(K, shape, padding)
            first = m.layers[0]
            print(f"{K.__name__:8s} {str(shape):14s} padding={padding:5s}: builds; first conv output "
                  f"{tuple(first.output.shape)}, kernel {tuple(first.kernel.shape)} (reads {shape[-1]} as channels), "
                  f"params {m.count_params()}")
        except Exception as exc:  # noqa: BLE001
            print(f"{K.__name__:8s} {str(shape):14s} padding={padding:5s}: raises {type(exc).__name__}: {clean(exc)}")


def small(K, shape):
    """A stack that builds either way: 'same' padding everywhere, pooling included."""
    L = K.layers
    return K.Sequential([L.Conv2D(16, (3, 3), activation="relu", padding="same", input_shape=shape),
                         L.MaxPooling2D((2, 2), padding="same"), L.Conv2D(32, (3, 3), activation="relu", padding="same"),
                         L.MaxPooling2D((2, 2), padding="same"), L.Flatten(), L.Dense(2, activation="softmax")])


def data(n, rng, size=16):
    """Label: is the bright 5-pixel bar (at a random place) vertical (1) or horizontal (0)?"""
    x = rng.normal(0, 0.3, size=(n, size, size, 3)).astype("float32")
    y = rng.randint(0, 2, size=n)
    for i, vertical in enumerate(y):
        r, c = rng.randint(0, size - 5), rng.randint(0, size - 5)
        if vertical:
            x[i, r:r + 5, c, :] += 1.5
        else:
            x[i, r, c:c + 5, :] += 1.5
    return x, y


print("== B. training on 256 images 16x16x3: is the bar vertical or horizontal (bar at a random place)")
rng = np.random.RandomState(0)
xtr, ytr = data(256, rng)
xte, yte = data(512, rng)
for K in (keras, tf_keras):
    for label, shape, tr, te in (("declared (3, 16, 16), data channels first", (3, 16, 16),
                                  xtr.transpose(0, 3, 1, 2), xte.transpose(0, 3, 1, 2)),
                                 ("declared (16, 16, 3), data channels last ", (16, 16, 3), xtr, xte)):
        K.utils.set_random_seed(0)
        m = small(K, shape)
        m.compile(K.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
        m.fit(tr, ytr, epochs=8, batch_size=64, verbose=0)
        loss, acc = m.evaluate(te, yte, verbose=0)
        print(f"{K.__name__:8s} {label}: test accuracy {acc:.3f}, loss {loss:.3f}")
