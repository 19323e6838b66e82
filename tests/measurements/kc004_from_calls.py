"""KerasTensors that come from calls, not from `Input()` directly (KC004, TF 2.21 / Keras 3.15).

Each case builds the value and applies a raw TF op (`tf.reduce_mean`) and a NumPy function
(`np.mean`) to it, and prints what it is and what the op raises: `model.output`, `model.outputs`,
`model.get_layer(name).output`, `model.input`, a Keras application called on an `Input`
(`base(inputs)`), `base.output`, the `preprocess_input` functions of keras.applications on an
`Input`, and a model loaded with `keras.models.load_model`.

Run: python tests/measurements/kc004_from_calls.py > tests/measurements/kc004_from_calls.out
"""

from __future__ import annotations

import os
import tempfile
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.simplefilter("ignore")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402


def first_line(exc: Exception) -> str:
    text = str(exc).replace("\x1b[1m", "").replace("\x1b[0m", "").strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:110] if text else ''}"


def probe(name: str, make) -> None:
    try:
        value = make()
    except Exception as exc:  # noqa: BLE001
        print(f"{name}: building it raised {first_line(exc)}")
        return
    items = value if isinstance(value, (list, tuple)) else [value]
    kinds = sorted({type(v).__name__ for v in items})
    print(f"{name}: {type(value).__name__} of {kinds}" if isinstance(value, (list, tuple)) else f"{name}: {kinds[0]}")
    for op_name, op in (("tf.reduce_mean", lambda v: tf.reduce_mean(v)), ("tf.concat", lambda v: tf.concat(v, -1)),
                        ("np.mean", lambda v: np.mean(v))):
        if op_name == "tf.concat" and not isinstance(value, (list, tuple)):
            continue
        try:
            op(value)
            print(f"  {op_name}: no error")
        except Exception as exc:  # noqa: BLE001
            print(f"  {op_name}: {first_line(exc)}")


inputs = keras.Input((32, 32, 3))
hidden = keras.layers.Conv2D(4, 3, name="conv")(inputs)
two = keras.Model(inputs, [keras.layers.GlobalAveragePooling2D()(hidden), keras.layers.Flatten()(hidden)])
one = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(hidden))

print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}")
probe("model.output", lambda: one.output)
probe("model.outputs", lambda: two.outputs)
probe("model.get_layer('conv').output", lambda: one.get_layer("conv").output)
probe("model.input", lambda: one.input)
base = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3))
probe("base(inputs) (MobileNetV2 on an Input)", lambda: base(keras.Input((32, 32, 3))))
probe("base.output", lambda: base.output)
for module in ("mobilenet_v2", "resnet50", "vgg16", "efficientnet", "inception_v3", "densenet"):
    fn = getattr(keras.applications, module).preprocess_input
    probe(f"keras.applications.{module}.preprocess_input(Input)", lambda fn=fn: fn(keras.Input((32, 32, 3))))
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "m.keras")
    one.save(path)
    loaded = keras.models.load_model(path)
    probe("keras.models.load_model(...).output", lambda: loaded.output)
    probe("loaded(Input)", lambda: loaded(keras.Input((32, 32, 3))))
