"""Measurements behind KC006, KC007, KC010 and KC011 that KERAS_FACTS_2 (N1, N7, N8) does not cover.

T1  A 1-unit output with categorical cross-entropy, for every activation and from_logits=True
    (N8.1 measured sigmoid only): is the loss 0 before and after training?
T2  Softmax over one unit in every spelling the rule knows (activation=, Activation, Softmax(),
    keras.ops.softmax, Lambda(tf.nn.softmax)): is every prediction 1.0? And Softmax(axis=1)
    over (T, 1) scores (attention weights): not constant.
T3  `'acc'` / `'accuracy'` on a 1-unit relu regression, Keras 3 and tf_keras: the accuracy at the
    exact least-squares fit of y = x @ w + 50 (N7.2 measured a linear output in Keras 3).
T4  A Sequential compiled, then given a softmax layer, then fit: does fit train the model as it
    ends (the loss of the softmax model), or as it was compiled?
T5  `tf.losses` / `tf.metrics` are `keras.losses` / `keras.metrics` in TF 2.
T6  A linear Conv2D head (segmentation) with binary cross-entropy: the loss as declared vs the
    same outputs as logits (N1.2 measured a Dense head).

Run: python tests/measurements/training_setup.py   (TF 2.21, Keras 3.15, tf_keras 2.21; ~1 min)
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import logging  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
import tf_keras  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 2)).astype("float32")
YB = (X[:, :1] + X[:, 1:] > 0).astype("float32")  # 0/1 labels, shape (300, 1)

print(f"versions: tensorflow {tf.__version__}, keras {keras.__version__}, tf_keras {tf_keras.__version__}")


def mlp(k, units, last, extra=None):
    k.utils.set_random_seed(1)
    inp = k.Input((2,))
    h = k.layers.Dense(16, activation="relu")(inp)
    out = last(h)
    if extra is not None:
        out = extra(out)
    return k.Model(inp, out)


print("T1 one unit + categorical cross-entropy: loss before -> after 20 epochs")
for k in (keras, tf_keras):
    for act in ("sigmoid", None, "relu", "tanh"):
        for logits in (False, True):
            m = mlp(k, 1, k.layers.Dense(1, activation=act))
            m.compile(k.optimizers.Adam(0.05), k.losses.CategoricalCrossentropy(from_logits=logits))
            before = m.evaluate(X, YB, verbose=0, batch_size=300)
            after = m.fit(X, YB, epochs=20, batch_size=300, verbose=0).history["loss"][-1]
            print(f"  {k.__name__:8s} Dense(1, {act!s:7s}) from_logits={logits!s:5s} {before:.6f} -> {after:.6f}")

print("T2 softmax over one unit: predictions on 300 inputs")
spellings = {
    "Dense(1, activation='softmax')": lambda k: (k.layers.Dense(1, activation="softmax"), None),
    "Dense(1) + Activation('softmax')": lambda k: (k.layers.Dense(1), k.layers.Activation("softmax")),
    "Dense(1) + Softmax()": lambda k: (k.layers.Dense(1), k.layers.Softmax()),
    "Dense(1) + Lambda(tf.nn.softmax)": lambda k: (k.layers.Dense(1), k.layers.Lambda(tf.nn.softmax)),
}
for k in (keras, tf_keras):
    for label, make in spellings.items():
        last, extra = make(k)
        p = mlp(k, 1, last, extra).predict(X, verbose=0)
        print(f"  {k.__name__:8s} {label:34s} min {p.min():.7f} max {p.max():.7f}")
keras.utils.set_random_seed(1)
inp = keras.Input((2,))
p = keras.Model(inp, keras.ops.softmax(keras.layers.Dense(1)(inp))).predict(X, verbose=0)
print(f"  keras    keras.ops.softmax(Dense(1)(x))     min {p.min():.7f} max {p.max():.7f}")
seq = keras.Input((5, 2))
scores = keras.layers.Dense(1, activation="tanh")(seq)
attention = keras.Model(seq, keras.layers.Softmax(axis=1)(scores))
p = attention.predict(rng.normal(size=(50, 5, 2)).astype("float32"), verbose=0)
print(f"  keras    Softmax(axis=1) over (5, 1) scores  min {p.min():.7f} max {p.max():.7f} "
      f"(sums over axis 1: {p.sum(axis=1).min():.4f}-{p.sum(axis=1).max():.4f})")

print("T3 'acc'/'accuracy' on a 1-unit relu regression at the exact least-squares fit of y = x @ w + 50")
XR = rng.normal(size=(256, 4)).astype("float32")
W = rng.normal(size=(4, 1)).astype("float32")
YR = XR @ W + 50
for k in (keras, tf_keras):
    for metric in ("acc", "accuracy"):
        for loss in ("mse", "mae"):
            k.utils.set_random_seed(0)
            m = k.Sequential([k.Input((4,)), k.layers.Dense(1, activation="relu")])
            m.compile(k.optimizers.Adam(0.1), loss, metrics=[metric])
            m.fit(XR, YR, epochs=1, batch_size=64, verbose=0)
            sol = np.linalg.lstsq(np.hstack([XR, np.ones((256, 1), "float32")]), YR, rcond=None)[0]
            m.layers[-1].set_weights([sol[:-1], sol[-1]])
            res = m.evaluate(XR, YR, verbose=0, return_dict=True)
            p = m.predict(XR, verbose=0)
            r2 = 1 - np.sum((p - YR) ** 2) / np.sum((YR - YR.mean()) ** 2)
            vals = " ".join(f"{name}={v:.3f}" for name, v in res.items() if name != "loss")
            print(f"  {k.__name__:8s} loss={loss} metrics=['{metric}']: R^2={r2:.3f} {vals}")

print("T4 compile, then add a softmax layer, then fit: which model trains?")
Y3 = keras.utils.to_categorical(rng.integers(0, 3, 300), 3)
for k in (keras, tf_keras):
    k.utils.set_random_seed(1)
    late = k.Sequential([k.Input((2,)), k.layers.Dense(16, activation="relu"), k.layers.Dense(3)])
    late.compile(k.optimizers.Adam(0.05), "categorical_crossentropy")
    late.add(k.layers.Softmax())
    k.utils.set_random_seed(1)
    ref = k.Sequential([k.Input((2,)), k.layers.Dense(16, activation="relu"), k.layers.Dense(3),
                        k.layers.Softmax()])
    ref.compile(k.optimizers.Adam(0.05), "categorical_crossentropy")
    a = late.fit(X, Y3, epochs=5, batch_size=300, verbose=0).history["loss"]
    b = ref.fit(X, Y3, epochs=5, batch_size=300, verbose=0).history["loss"]
    print(f"  {k.__name__:8s} compiled then Softmax added: {a[0]:.4f} -> {a[-1]:.4f}; "
          f"softmax from the start: {b[0]:.4f} -> {b[-1]:.4f}; outputs sum to "
          f"{late.predict(X, verbose=0).sum(-1).mean():.4f}")

print("T5 tf.losses / tf.metrics in TF 2")
print(f"  tf.losses.SparseCategoricalCrossentropy is keras.losses.SparseCategoricalCrossentropy: "
      f"{tf.losses.SparseCategoricalCrossentropy is keras.losses.SparseCategoricalCrossentropy}")
print(f"  tf.metrics.BinaryAccuracy is keras.metrics.BinaryAccuracy: "
      f"{tf.metrics.BinaryAccuracy is keras.metrics.BinaryAccuracy}")

print("T6 a linear Conv2D(1, 1) head with binary cross-entropy (segmentation)")
keras.utils.set_random_seed(1)
img = keras.Input((8, 8, 3))
seg = keras.Model(img, keras.layers.Conv2D(1, 1)(keras.layers.Conv2D(8, 3, padding="same", activation="relu")(img)))
xi = rng.normal(size=(64, 8, 8, 3)).astype("float32")
yi = (xi[..., :1] > 0).astype("float32")
z = seg(xi)
declared = float(keras.losses.BinaryCrossentropy()(yi, z))
as_logits = float(keras.losses.BinaryCrossentropy(from_logits=True)(yi, z))
print(f"  declared (from_logits=False) {declared:.3f} vs the same outputs as logits {as_logits:.3f} "
      f"({declared / as_logits:.1f}x)")
