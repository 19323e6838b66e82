"""What Keras does with ONE layer object listed twice in a Sequential model (KC001).

The pattern seen in the wild: `norm = BatchNormalization()` created once, then appended to the
layer list in every loop iteration, after the previous iteration's Dropout:

    norm = layers.BatchNormalization()
    stack = []
    for units in (16, 16):
        stack += [norm, layers.Dense(units, activation="relu"), layers.Dropout(0.5)]
    model = keras.Sequential([keras.Input((16,)), *stack, layers.Dense(1)])

so the list reads [norm, Dense, Dropout, norm, Dense, Dropout, Dense]: the second `norm` comes
right after a Dropout. Does the Dropout feed BN there? Measured with Keras 3 (tf.keras) and
tf_keras: is the model built, how many layers it has, how often `norm` is applied (its inbound
nodes), what its second application receives, and a shape clash (widths 16 then 8).

Run: python tests/measurements/kc001_repeated_instance.py > tests/measurements/kc001_repeated_instance.out
"""

from __future__ import annotations

import os
import warnings

warnings.simplefilter("ignore")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def _sources(norm, lib_name: str) -> list[str]:
    """The layer whose output each application of `norm` receives."""
    found = []
    for node in getattr(norm, "_inbound_nodes", []) or []:
        if lib_name == "tf_keras":
            layers = node.inbound_layers
            layers = layers if isinstance(layers, list) else [layers]
            found.append(",".join(layer.name for layer in layers) or "-")
        else:
            tensors = node.input_tensors
            found.append(",".join(t._keras_history.operation.name for t in tensors) or "-")
    return found


def describe(lib, name: str, lib_name: str) -> None:
    keras, layers = lib, lib.layers
    print(f"== {name} (version {getattr(keras, '__version__', '?')})")
    patterns = {
        # [norm, Dense, Dropout] per iteration: the 2nd norm comes after the 1st Dropout (the case).
        "A [norm, Dense(16), Dropout] x2": lambda norm: [
            x for i in range(2) for x in (norm, layers.Dense(16, activation="relu", name=f"dense{i}"),
                                          layers.Dropout(0.5, name=f"drop{i}"))],
        # [Dense, Dropout, norm] per iteration with different widths: the 2nd norm sees another shape.
        "B [Dense(16|8), Dropout, norm] x2": lambda norm: [
            x for i, u in enumerate((16, 8)) for x in (layers.Dense(u, activation="relu", name=f"dense{i}"),
                                                       layers.Dropout(0.5, name=f"drop{i}"), norm)],
    }
    rng = np.random.RandomState(0)
    x = rng.normal(size=(512, 16)).astype("float32")
    for title, make in patterns.items():
        norm = layers.BatchNormalization(name="norm")
        listing = [*make(norm), layers.Dense(1, name="head")]
        try:
            model = keras.Sequential([keras.Input((16,)), *listing])
        except Exception as exc:  # noqa: BLE001
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print(f"  {title}: {type(exc).__name__} when building: {first[:300]}")
            continue
        names = [layer.name for layer in model.layers]
        print(f"  {title}: built; model.layers = {names}")
        print(f"    norm is applied to the output of: {_sources(norm, lib_name)}")
        model.compile("adam", "mse")
        model.fit(x, rng.normal(size=(512, 1)).astype("float32"), epochs=2, verbose=0)
        for _ in range(300):
            model(x, training=True)
        moving = float(np.mean(np.asarray(norm.moving_variance)))
        # Forward through the list as written (each listing applied) and through the list with
        # the repeats left out, at inference; the model's predict() is one of the two.
        outputs = {}
        variances = []
        for mode in ("as listed", "repeats left out"):
            h, seen = x, set()
            for layer in listing:
                if mode == "repeats left out" and id(layer) in seen:
                    continue
                seen.add(id(layer))
                if layer is norm and mode == "as listed":
                    variances.append(float(np.mean(np.var(np.asarray(h), axis=0))))
                h = np.asarray(layer(h, training=False))
            outputs[mode] = h
        predicted = model.predict(x, verbose=0)
        same = {mode: bool(np.allclose(out, predicted, atol=1e-5)) for mode, out in outputs.items()}
        print(f"    predict() equals the forward pass: {same}")
        ratios = ", ".join(f"{moving / v:.2f}" for v in variances)
        print(f"    after training: moving variance {moving:.3f}; variance of norm's input at inference at "
              f"each listing: {[round(v, 3) for v in variances]} (ratio {ratios})")


if __name__ == "__main__":
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__}")
    describe(tf.keras, "Keras 3 (tf.keras)", "keras")
    import tf_keras

    describe(tf_keras, "tf_keras", "tf_keras")
