"""How `Sequential(a, b)` and `model.add(layer, <keyword>)` behave (KC022 sequential-call-misuse).

TF 2.21 / keras 3.15 / tf_keras 2.21. For each library: what the call raises (or, when it does
not raise, what the model holds). Output beside this file (.out).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras  # noqa: E402


def outcome(fn):
    try:
        model = fn()
    except Exception as exc:  # noqa: BLE001
        return f"raises {type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
    names = [type(layer).__name__ for layer in model.layers]
    return f"no error; layers {names}, name {model.name!r}, trainable {model.trainable!r}"


for K in (keras, tf_keras):
    L = K.layers
    print(f"== {K.__name__} {K.__version__}")
    print("A Sequential(Dense(4), Dense(2))            :", outcome(lambda: K.Sequential(L.Dense(4), L.Dense(2))))
    print("B Sequential(Dense(4), Dense(2), Dense(1))  :",
          outcome(lambda: K.Sequential(L.Dense(4), L.Dense(2), L.Dense(1))))
    print("C Sequential(Input((3,)), Dense(2))         :", outcome(lambda: K.Sequential(K.Input((3,)), L.Dense(2))))
    print("D Sequential(Dense(4))  (one layer, no list):", outcome(lambda: K.Sequential(L.Dense(4))))
    print("E Sequential([Dense(4), Dense(2)], name='m') :",
          outcome(lambda: K.Sequential([L.Dense(4), L.Dense(2)], name="m")))
    print("F Sequential([Dense(4)], 'm')               :", outcome(lambda: K.Sequential([L.Dense(4)], "m")))

    def add_kw():
        m = K.Sequential()
        m.add(L.Dense(4), input_shape=(3,))
        return m

    def add_act():
        m = K.Sequential()
        m.add(L.Dense(4, input_shape=(3,)), activation="relu")
        return m

    def add_two():
        m = K.Sequential()
        m.add(L.Dense(4, input_shape=(3,)))
        m.add(L.Dense(8), L.Activation("relu"))
        m.add(L.Dense(1))
        return m

    def add_rebuild():
        m = K.Sequential()
        m.add(L.Dense(4, input_shape=(3,)), rebuild=False)
        return m

    print("G model.add(Dense(4), input_shape=(3,))     :", outcome(add_kw))
    print("H model.add(Dense(4, ...), activation='relu'):", outcome(add_act))
    print("I model.add(Dense(8), Activation('relu'))   :", outcome(add_two))
    print("J model.add(Dense(4, ...), rebuild=False)    :", outcome(add_rebuild))
    try:
        m = add_two()
        out = m.predict(np.full((2, 3), -5.0, "float32"), verbose=0)
        print("  I predict works:", out.shape, "| output layer count", len(m.layers))
    except Exception as exc:  # noqa: BLE001
        print("  I predict:", type(exc).__name__)
