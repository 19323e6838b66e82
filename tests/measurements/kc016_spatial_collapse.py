"""When a conv/pooling stack shrinks the spatial size to zero or below (KC016 spatial-dims-collapse).

TF 2.21 / keras 3.15 / tf_keras 2.21. For each stack and library: where it fails (construction,
`model.add`, first call, `fit`) and with what error, or the output shape when it builds.
Output beside this file (.out).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import re  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tf_keras  # noqa: E402


def clean(exc):
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())[:150]


def stack(K, spec, size, channels=3):
    """spec: list of ("conv", k) / ("pool", p) / ("convs", k, stride) / ("poolv", p)."""
    L = K.layers
    built = []
    for i, item in enumerate(spec):
        kw = {"input_shape": (size, size, channels)} if i == 0 else {}
        if item[0] == "conv":
            built.append(L.Conv2D(4, item[1], **kw))
        elif item[0] == "convs":
            built.append(L.Conv2D(4, item[1], strides=item[2], **kw))
        elif item[0] == "pool":
            built.append(L.MaxPooling2D(item[1], **kw))
    return built


CASES = {
    "32x32: 4x (conv 3x3 valid, pool 2x2)": ([("conv", 3), ("pool", 2)] * 4, 32),
    "28x28: 3x (conv 5x5 valid, pool 2x2)": ([("conv", 5), ("pool", 2)] * 3, 28),
    "6x6: conv 3x3, conv 3x3, conv 3x3 (6->4->2->0)": ([("conv", 3)] * 3, 6),
    "5x5: conv 5x5 (5->1), pool 2x2 (1->0)": ([("conv", 5), ("pool", 2)], 5),
    "8x8: conv 3x3 stride 4 (8->2), conv 3x3 (2->0)": ([("convs", 3, 4), ("conv", 3)], 8),
    "32x32: 2x (conv 3x3, pool 2x2) (fits: 6x6)": ([("conv", 3), ("pool", 2)] * 2, 32),
}


def where_it_fails(K, spec, size):
    L = K.layers
    try:
        layers_ = stack(K, spec, size)
    except Exception as exc:  # noqa: BLE001
        return f"construction: {type(exc).__name__}"
    model = K.Sequential()
    for i, layer in enumerate(layers_):
        try:
            model.add(layer)
        except Exception as exc:  # noqa: BLE001
            return f"model.add (layer {i + 1}, {type(layer).__name__}): {type(exc).__name__}: {clean(exc)}"
    try:
        model.add(L.Flatten())
        model.add(L.Dense(2, activation="softmax"))
        model.compile("adam", "sparse_categorical_crossentropy")
    except Exception as exc:  # noqa: BLE001
        return f"head/compile: {type(exc).__name__}: {clean(exc)}"
    try:
        x = np.zeros((4, size, size, 3), "float32")
        model.fit(x, np.zeros(4), epochs=1, verbose=0)
    except Exception as exc:  # noqa: BLE001
        return f"fit: {type(exc).__name__}: {clean(exc)}"
    return f"builds and fits; last spatial layer output {model.layers[len(spec) - 1].output.shape}"


for K in (keras, tf_keras):
    print(f"== {K.__name__} {K.__version__}")
    for name, (spec, size) in CASES.items():
        print(f"{name:48s}: {where_it_fails(K, spec, size)}")
