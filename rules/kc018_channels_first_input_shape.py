"""A channels-first image shape `(c, h, w)` given to a channels-last Conv2D.

## What it does
Flags a literal input shape `(c, h, w)` with c in {1, 3, 4} and h, w >= 8, read by a 2-D
convolution (Conv2D, SeparableConv2D, DepthwiseConv2D) that reads channels last: the first
layer of a `Sequential` model with `input_shape=(3, 32, 32)`, or an `Input(shape=(3, 32, 32))`
whose tensor reaches the convolution directly (or through Dropout, BatchNormalization and
other shape-keeping layers).

Silent when the layer says `data_format="channels_first"`, and in any file that mentions
`channels_first` or the image dimension ordering at all (a layer's or
`set_image_data_format`'s argument, or the usual guard
`if K.image_data_format() == "channels_first": input_shape = (1, rows, cols) else: ...`), or
sets the image data format; also for small h or w, and for shapes that are not literals or
same-file constants.

## Why is this bad?
Keras reads images as (height, width, channels) unless told otherwise. `(1, 28, 28)` is
PyTorch's and Theano's order: Conv2D takes 1 as the height and 28 as the channels. Measured
with Keras 3.15 and tf_keras 2.21 (tests/measurements/kc018_channels_first_input.py): the
usual MNIST and CIFAR stacks declared this way fail to build ((1, 28, 28) with a 3x3 kernel,
(3, 32, 32) at the first pooling: the "height" is 1), which is at least loud; with `same`
padding everywhere (4, 64, 64) builds and trains, the first kernel is (3, 3, 64, 32), and on a
small task where the orientation of a bar matters (256 images, 8 epochs) it reached 0.68
test accuracy against 0.92 for the same data channels last: the convolutions slide over the
wrong axes.

## Example
    model = keras.Sequential([
        layers.Conv2D(32, 3, activation="relu", input_shape=(3, 32, 32)),
    ])

## Use instead
    model = keras.Sequential([
        layers.Conv2D(32, 3, activation="relu", input_shape=(32, 32, 3)),  # x = x.transpose(0, 2, 3, 1)
    ])

or keep the data as it is and say so (slower on CPU):

    layers.Conv2D(32, 3, activation="relu", input_shape=(3, 32, 32), data_format="channels_first")

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds the flagged convolution on an input of the declared shape, from its own
source, and reports the axis it took as channels (`confirmed`: the kernel is (k, k, 32, f) for
`(3, 32, 32)`) or the error Keras raises when it cannot build; `not reproduced` when the
kernel's input channels are the declared c.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import NOT_CONSTANT, Context, Hit, LayerDef, Rule, cst, literal_value

CONVS = frozenset({"Conv2D", "Convolution2D", "SeparableConv2D", "SeparableConvolution2D", "DepthwiseConv2D"})
CHANNELS = (1, 3, 4)
MIN_SIDE = 8
# Any of these in the file: its author knows about the channel order, or sets it.
AWARE = ("channels_first", "image_dim_ordering", "set_image_data_format")

RULE = Rule(
    "KC018", "channels-first-input-shape",
    "{given} is channels first, but {layer} reads channels last: it takes {c} as the height and {w} as the "
    "channels (write {fixed}, with the data transposed to match, or pass data_format=\"channels_first\")",
    severity="warning",
    needs=tuple((conv, source) for conv in (b"Conv2D", b"Convolution2D", b"SeparableConv2D")
                for source in (b"input_shape=", b"Input(", b"InputLayer(")),
    anchors=("keras.Input", "keras.InputLayer", "keras.Sequential"),
)

VALID = [
    "import keras\nfrom keras import layers\nm = keras.Sequential([layers.Conv2D(8, 3, input_shape=(28, 28, 1))])\n",
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Conv2D(8, 3, input_shape=(3, 32, 32), data_format='channels_first')])\n",
    # The guarded idiom: the shape is one of two, so not known.
    "import keras\nfrom keras import layers, backend as K\n"
    "if K.image_data_format() == 'channels_first':\n    shape = (1, 28, 28)\nelse:\n    shape = (28, 28, 1)\n"
    "m = keras.Sequential([layers.Conv2D(8, 3, input_shape=shape)])\n",
    # A small height and width: (4, 4, 3) reads fine either way.
    "import keras\nfrom keras import layers\nm = keras.Sequential([layers.Conv2D(8, 3, input_shape=(3, 4, 4))])\n",
]
INVALID = [
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Conv2D(8, 3, input_shape=(3, 32, 32))])  # expect: KC018\n",
    "import tensorflow as tf\ninp = tf.keras.Input(shape=(1, 28, 28))  # expect: KC018\n"
    "x = tf.keras.layers.Conv2D(8, 3, padding='same')(inp)\n",
]


def _declared(ctx: Context, layer: LayerDef) -> tuple[str, object, cst.BaseExpression] | None:
    for key in ("input_shape", "batch_input_shape"):
        if layer.given(key):
            value = ctx.shapes.arg(layer, key)
            if value is NOT_CONSTANT or not isinstance(value, (tuple, list)):
                return None
            value = tuple(value[1:]) if key == "batch_input_shape" else tuple(value)
            return f"`{key}={ctx.code(layer.arg(key))}`", value, layer.arg(key)
    return None


def _channels_first(dims) -> bool:
    if not isinstance(dims, tuple) or len(dims) != 3:
        return False
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in dims):
        return False
    c, h, w = dims
    return c in CHANNELS and h >= MIN_SIDE and w >= MIN_SIDE


def check(ctx: Context) -> Iterator[Hit]:
    if any(word in ctx.text for word in AWARE):
        return
    shapes = ctx.shapes
    reported: set[int] = set()
    for app in ctx.picture.applies:
        layer = app.layer
        if layer.canon.flavor is None or layer.short not in CONVS or shapes.channels_first(layer) is not False:
            continue
        if layer.given("data_format") is not False:
            continue
        related = {}
        message = None
        if app.first:
            found = _declared(ctx, layer)
            if found is None:
                continue
            given, dims, expr = found
            node = layer.node
        else:
            input_def = shapes.input_source(app)
            shape = shapes.source(input_def) if input_def is not None else None
            if shape is None:
                continue
            dims = tuple(shape[1:])
            expr = input_def.arg("shape", 0)
            if expr is None:
                continue
            given = f"`{ctx.code(input_def.node.func)}(shape={ctx.code(expr)})`"
            node = input_def.node
            related = {"layer": layer.node}
            message = RULE.message.replace("but {layer} reads", "but {layer} (line {layer_line}) reads")
        if not _channels_first(dims) or id(node) in reported:
            continue
        reported.add(id(node))
        c, h, w = dims
        if literal_value(expr) is NOT_CONSTANT:
            given += f" {dims}"
        yield Hit(node, fmt={"given": given, "layer": layer.short, "c": c, "w": w, "fixed": f"({h}, {w}, {c})"},
                  related=related, message=message, data={"app": app, "dims": dims})
