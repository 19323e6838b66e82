"""A Dense classifier head applied to an unflattened conv feature map.

## What it does
Flags a `Dense` layer that consumes the output of a convolution, pooling, ZeroPadding or
Cropping layer (directly or through Dropout, BatchNormalization, activations and other layers
that keep the shape), with no `Flatten`, global pooling, `Reshape` or recurrent layer in
between, when the model:

- ends in a classifier: from that Dense to the model's output there are only Dense and
  shape-keeping layers, and the last one is a Dense with `softmax` or `sigmoid` (or is followed
  by `Activation("softmax")`/`Softmax()`);
- has shrunk the feature map on the way (pooling, strides, `valid` convolutions, cropping), so
  one prediction per position cannot be what the labels hold.

Silent: Dense inside `TimeDistributed`; a Flatten, Reshape, global pooling or recurrent layer
later on the way to the output (a per-position projection before the head is fine); models
whose last layer is a Conv (segmentation); models that upsample (UpSampling, Conv*Transpose:
decoders, segmentation heads) or keep the input's resolution (`same` convolutions only: a
sequence tagger or a per-pixel classifier); models whose output continues into a layer
kerascheck does not model.

## Why is this bad?
Dense multiplies the LAST axis only, so on a `(batch, 5, 5, 32)` feature map it gives
`(batch, 5, 5, k)`: the model predicts one class distribution per position, not per sample.
Measured with Keras 3.15 and tf_keras 2.21 (tests/measurements/kc015_dense_on_feature_map.py):
with 2-D feature maps and categorical or binary losses, `fit()` raises on the label shape; but
`Conv1D -> Dense(1, sigmoid)` trains WITHOUT ANY ERROR on `(N, 1)` labels, the labels being
broadcast over the positions: with MSE in both libraries and with binary cross-entropy in
tf_keras, reaching a reported accuracy of 0.59 where the same model with a `Flatten` reached
0.94-0.95. The loud case costs a confusing shape error at `fit()`; the silent one a model that
does not learn what it should.

## Example
    model = keras.Sequential([
        layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
        layers.MaxPooling2D(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])

## Use instead
    model = keras.Sequential([
        layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
        layers.MaxPooling2D(),
        layers.Flatten(),  # or layers.GlobalAveragePooling2D()
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds the flagged path, from the feature-map layer through the flagged Dense to
the classifier, each layer from its own source, on an input of the static shape (or a small
synthetic one of the right rank), and reports the model's output shape: `confirmed` when it
keeps spatial axes (one prediction per position), `not reproduced` when it is one row per sample.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import NOT_CONSTANT, Apply, Context, Hit, LayerDef, Rule, cst, literal_string

CONVS = frozenset({
    "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D", "DepthwiseConv1D",
    "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D",
})
TRANSPOSED = frozenset({"Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Convolution2DTranspose",
                        "Convolution3DTranspose", "Deconvolution2D", "Deconvolution3D"})
POOLS = frozenset(f"{kind}{word}{n}D" for kind in ("Max", "Average", "Avg") for word in ("Pooling", "Pool")
                  for n in (1, 2, 3))
PADDING = frozenset({"ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"})
CROPPING = frozenset({"Cropping1D", "Cropping2D", "Cropping3D"})
UPSAMPLING = frozenset({"UpSampling1D", "UpSampling2D", "UpSampling3D"})
FEATURE_MAPS = CONVS | POOLS | PADDING | CROPPING
# Layers that keep the shape: a Dense reached through them still sees the feature map.
KEEP = frozenset({
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout", "GaussianNoise",
    "AlphaDropout", "BatchNormalization", "SyncBatchNormalization", "LayerNormalization", "GroupNormalization",
    "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax", "ActivityRegularization",
})
SQUASH = frozenset({"softmax", "sigmoid"})
SQUASH_FUNCTIONS = frozenset({"keras.activations.softmax", "keras.activations.sigmoid", "tensorflow.nn.softmax",
                              "tensorflow.nn.sigmoid", "tensorflow.math.sigmoid", "tensorflow.sigmoid",
                              "keras.ops.softmax", "keras.ops.sigmoid"})
MAX_STEPS = 64

RULE = Rule(
    "KC015", "dense-on-feature-map",
    "This Dense is applied to the feature map of {src} (line {src_line}) with no Flatten or global pooling "
    "between: Dense acts on the last axis only, so the model outputs one prediction per position{shape} "
    "instead of one per sample",
    severity="warning",
    needs=tuple((b"Dense", word, act) for word in (b"Conv", b"Pool", b"Padding", b"Cropping", b"Convolution")
                for act in (b"softmax", b"sigmoid")),
    # Where the Dense is applied; the feature map comes from the same function or one tied to it by calls.
    anchors=("keras.layers.Dense",),
)

VALID = [
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Conv2D(8, 3), layers.MaxPooling2D(), layers.Flatten(),\n"
    "                      layers.Dense(10, activation='softmax')])\n",
    # A per-position projection, then a Flatten: fine.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Conv2D(8, 3), layers.MaxPooling2D(), layers.Dense(4), layers.Flatten(),\n"
    "                      layers.Dense(10, activation='softmax')])\n",
    # Segmentation: the last layer is a Conv.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Conv2D(8, 3), layers.MaxPooling2D(), layers.Dense(4),\n"
    "                      layers.Conv2D(3, 1, activation='softmax')])\n",
    # A sequence tagger: 'same' convolutions keep one position per token.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Embedding(1000, 32), layers.Conv1D(64, 3, padding='same'),\n"
    "                      layers.Dense(9, activation='softmax')])\n",
]
INVALID = [
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Conv2D(8, 3, input_shape=(28, 28, 1)), layers.MaxPooling2D(),\n"
    "                      layers.Dense(10, activation='softmax')])  # expect: KC015\n",
    "import tensorflow as tf\nL = tf.keras.layers\ninp = tf.keras.Input((20, 1))\n"
    "h = L.Conv1D(8, 3, activation='relu')(inp)\n"
    "out = L.Dense(1, activation='sigmoid')(L.Dropout(0.2)(h))  # expect: KC015\n",
]


def _squashes(ctx: Context, layer: LayerDef) -> bool | None:
    """Does the layer end in softmax/sigmoid? None when its activation is not known."""
    short = layer.short
    if short == "Softmax":
        return True
    keyword, position = ("activation", 0) if short == "Activation" else ("activation", 1)
    if short not in ("Dense", "Activation"):
        return False
    expr = layer.arg(keyword, position)
    if expr is None:
        return False if layer.given(keyword, position) is False else None
    name = literal_string(expr)
    if name is None:
        value = ctx.shapes.literal(expr, layer.value(keyword, position), layer.site)
        name = value if isinstance(value, str) else None
    if name is not None:
        return name.lower() in SQUASH
    if isinstance(expr, (cst.Name, cst.Attribute)):
        canon = ctx.resolve(expr, layer.site.scope)
        if canon is not None:
            return canon.name in SQUASH_FUNCTIONS
    return None


def _feature_map(app: Apply, pic) -> tuple[Apply, tuple[Apply, ...]] | None:
    """The feature-map layer whose output `app` consumes, through shape-keeping layers."""
    between: list[Apply] = []
    current = app
    for _ in range(MAX_STEPS):
        producers = list(pic.producers(current))
        if len(producers) != 1 or len(current.inputs) != 1:
            return None
        producer = producers[0]
        if producer.layer.canon.flavor is None:
            return None
        if producer.layer.short in FEATURE_MAPS:
            return producer, tuple(between)
        if producer.layer.short not in KEEP:
            return None
        between.append(producer)
        current = producer
    return None


def _head(ctx: Context, app: Apply) -> list[Apply] | None:
    """The path from the Dense to the classifier it leads to (both included): following
    consumers through Dense and shape-keeping layers to an application nothing consumes, which
    ends in softmax/sigmoid; None otherwise."""
    shapes = ctx.shapes
    current = app
    last_dense: Apply | None = None
    path: list[Apply] = []
    for _ in range(MAX_STEPS):
        path.append(current)
        if current.layer.canon.flavor is None:
            return None
        short = current.layer.short
        if short == "Dense":
            last_dense = current
        elif short not in KEEP:
            return None
        after = shapes.consumers(current)
        if not after:
            squashes = _squashes(ctx, current.layer)
            if squashes is None or last_dense is None:
                return None
            if not squashes and current is last_dense:
                return None
            if not squashes:
                # A trailing Dropout/BN after the head: the head is the last Dense.
                return path[:path.index(last_dense) + 1] if _squashes(ctx, last_dense.layer) else None
            return path
        if len(after) != 1:
            return None
        current = after[0]
    return None


def _upstream(pic, start: Apply) -> list[Apply]:
    """The applications that feed `start`, `start` included (bounded)."""
    seen: dict[int, Apply] = {}
    stack = [start]
    while stack and len(seen) < 4 * MAX_STEPS:
        app = stack.pop()
        if id(app) in seen:
            continue
        seen[id(app)] = app
        stack.extend(pic.producers(app))
    return list(seen.values())


def _int_tuple(value, n: int):
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    if isinstance(value, (tuple, list)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    return None


def _shrinks(ctx: Context, path: list[Apply]) -> bool | None:
    """Did the feature map shrink on the way (True), keep its size or grow (False)? None: unknown."""
    shapes = ctx.shapes
    down = up = padded = unknown = False
    valid_conv = False
    for app in path:
        layer = app.layer
        short = layer.short
        if layer.canon.flavor is None:
            continue
        if short in UPSAMPLING or short in TRANSPOSED:
            up = True
        elif short in PADDING:
            padded = True
        elif short in CROPPING:
            down = True
        elif short in POOLS:
            size = _int_tuple(shapes.arg(layer, "pool_size", 0, 2), 1)
            strides = shapes.arg(layer, "strides", 1, None)
            strides = size if strides is None else _int_tuple(strides, 1)
            if size is None or strides is None:
                unknown = True
            elif max(strides) > 1 or (shapes.arg(layer, "padding", 2, "valid") == "valid" and max(size) > 1):
                down = True
        elif short in CONVS:
            offset = -1 if short.startswith("Depthwise") else 0
            strides = _int_tuple(shapes.arg(layer, "strides", 2 + offset, 1), 1)
            kernel = _int_tuple(shapes.arg(layer, "kernel_size", 1 + offset), 1)
            padding = shapes.arg(layer, "padding", 3 + offset, "valid")
            if strides is None or kernel is None or padding is NOT_CONSTANT or not isinstance(padding, str):
                unknown = True
            elif max(strides) > 1:
                down = True
            elif padding.lower() == "valid" and max(kernel) > 1:
                valid_conv = True
    if up:
        return False
    if down or (valid_conv and not padded):
        return True
    return None if unknown else False


def check(ctx: Context) -> Iterator[Hit]:
    pic = ctx.picture
    shapes = ctx.shapes
    reported: set[int] = set()
    for app in pic.applies:
        layer = app.layer
        if layer.short != "Dense" or layer.canon.flavor is None or id(layer.node) in reported:
            continue
        found = _feature_map(app, pic)
        if found is None:
            continue
        source, between = found
        before = shapes.input(app)
        if before is not None and len(before) < 3:
            continue
        path = _head(ctx, app)
        if path is None:
            continue
        head = path[-1]
        if not _shrinks(ctx, _upstream(pic, source)):
            continue
        out = shapes.output(head)
        shape = f" (shape {_shown(out)})" if out is not None and len(out) >= 3 else ""
        reported.add(id(layer.node))
        yield Hit(layer.node, fmt={"src": source.layer.short, "shape": shape},
                  related={"src": source.layer.node},
                  data={"src": source, "dense": app, "head": head, "chain": (source, *reversed(between), *path)})


def _shown(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
