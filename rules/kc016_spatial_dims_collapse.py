"""A conv or pooling layer whose output size would be zero or negative.

## What it does
Flags the first convolution or pooling layer (Conv1D/2D/3D, SeparableConv, DepthwiseConv,
MaxPooling, AveragePooling) whose output spatial size is zero or negative, given the literal
input size (`Input(shape=...)`, the first layer's `input_shape=`, same-file constants) and the
kernels, strides, padding and dilation of the layers before it. The message shows the chain of
sizes: `32→30→15→13→6→4→2, then 0: a kernel of 3 does not fit in 2`.

Silent when any size on the way is not known (no input shape, a size from a variable, a layer
kerascheck does not model, a loop whose count it does not know, a file that sets or reads the
image data format), and on `padding="same"`, which never shrinks below 1. A channels-first
image `(3, 32, 32)` whose "height" of 3 collapses is left to KC018, which names the cause.

## Why is this bad?
Every `valid` conv takes `kernel - 1` off the size and every pooling divides it, and the
stack runs out of image: Keras 3.15 raises `ValueError: Computed output size would be zero or
negative` and tf_keras 2.21 `Negative dimension size caused by subtracting 3 from 2`, when the
layer is added (measured: tests/measurements/kc016_spatial_collapse.py: four 3x3 convs with
2x2 pooling on 32x32 fail at the 4th conv, 2 pixels left; three 5x5 convs with pooling on 28x28
at the 3rd). The error names the layer but not how the size got there; this rule says it before
anything runs, with the whole chain, so the fix (fewer pooling layers, `padding="same"`, a
larger input) is plain.

## Example
    model = keras.Sequential([keras.Input(shape=(32, 32, 3))])
    for filters in (32, 64, 128, 256):
        model.add(layers.Conv2D(filters, 3, activation="relu"))
        model.add(layers.MaxPooling2D())

## Use instead
    model = keras.Sequential([keras.Input(shape=(32, 32, 3))])
    for filters in (32, 64, 128, 256):
        model.add(layers.Conv2D(filters, 3, padding="same", activation="relu"))
        model.add(layers.MaxPooling2D())

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds the chain that the message shows, from an `Input` of the static input shape
through the flagged layer, each layer constructed from its own source, and reports the error
Keras raises (`confirmed`) or the output shape when it builds (`not reproduced`).
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import Apply, Context, Hit, Rule

CONVS = frozenset({
    "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D", "DepthwiseConv1D",
    "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D",
})
POOLS = frozenset(f"{kind}{word}{n}D" for kind in ("Max", "Average", "Avg") for word in ("Pooling", "Pool")
                  for n in (1, 2, 3))
AXES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}

RULE = Rule(
    "KC016", "spatial-dims-collapse",
    "The {axis} collapses at this {layer}: {chain}→{out}, because {what} does not fit in {last}; Keras raises "
    "ValueError when the model is built",
    severity="error",
    # A conv or pooling layer, and a source of sizes: `input_shape=` (`batch_input_shape=`) or an Input.
    needs=tuple((word, source) for word in (b"Conv", b"Pool") for source in (b"input_shape=", b"Input(", b"InputLayer(")),
    # Only where sizes start matters: an Input, or the first layer of a Sequential model; the layers
    # after it are reached through the calls that tie functions together.
    anchors=("keras.Input", "keras.InputLayer", "keras.Sequential"),
)

VALID = [
    # Two blocks fit: 32 -> 30 -> 15 -> 13 -> 6.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([keras.Input((32, 32, 3)), layers.Conv2D(8, 3), layers.MaxPooling2D(),\n"
    "                      layers.Conv2D(8, 3), layers.MaxPooling2D()])\n",
    # 'same' padding never collapses.
    "import keras\nfrom keras import layers\n"
    "x = keras.Input((4, 4, 3))\nfor _ in range(3):\n    x = layers.Conv2D(8, 5, padding='same')(x)\n",
    # No input size known.
    "import keras\nfrom keras import layers\nm = keras.Sequential([layers.Conv2D(8, 5)] * 9)\n",
]
INVALID = [
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([keras.Input((32, 32, 3))])\n"
    "for f in (32, 64, 128, 256):\n"
    "    m.add(layers.Conv2D(f, 3))  # expect: KC016\n"
    "    m.add(layers.MaxPooling2D())\n",
    "import tensorflow as tf\n"
    "inp = tf.keras.Input(shape=(5, 5, 3))\n"
    "h = tf.keras.layers.Conv2D(8, 5)(inp)\n"
    "h = tf.keras.layers.MaxPool2D(2)(h)  # expect: KC016\n",
]


def _spatial(shape: tuple, first: bool) -> list:
    return list(shape[2:] if first else shape[1:-1])


def _sizes(shape: tuple, first: bool, axis: int) -> str:
    dims = _spatial(shape, first)
    if all(d == dims[0] for d in dims):
        return str(dims[axis])
    return "x".join("?" if d is None else str(d) for d in dims)


def check(ctx: Context) -> Iterator[Hit]:
    shapes = ctx.shapes
    reported: set[int] = set()
    for app in ctx.picture.applies:
        layer = app.layer
        short = layer.short
        if layer.canon.flavor is None or short not in CONVS and short not in POOLS or id(layer.node) in reported:
            continue
        if not shapes.collapsed(app):
            continue
        first = shapes.channels_first(layer)
        out, before = shapes.output(app), shapes.input(app)
        if first is None or out is None or before is None:
            continue
        spatial_out, spatial_in = _spatial(out, first), _spatial(before, first)
        axis = next(i for i, d in enumerate(spatial_out) if d is not None and d <= 0)
        dims = len(spatial_out)
        square = all(d == spatial_out[axis] for d in spatial_out) and all(d == spatial_in[axis] for d in spatial_in)
        # The sizes along the chain that ends here, as long as the layout stays the same.
        chain = []
        for step, shape in reversed(shapes.trail(app)):
            if len(shape) != len(out) or (step is not None and step.layer.short in CONVS | POOLS
                                          and shapes.channels_first(step.layer) != first):
                break
            chain.append(_sizes(shape, first, axis) if square else str(_spatial(shape, first)[axis]))
        chain.reverse()
        chain = chain[:-1]  # the collapsed size is said separately
        if not chain:
            continue
        source = shapes.trail(app)[0][1]
        if not first and dims == 2 and axis == 0 and _channels_first_image(source):
            continue  # (3, 32, 32) read channels last: KC018 names the cause
        what = _window(ctx, app, short, dims, axis)
        if what is None:
            continue
        reported.add(id(layer.node))
        axis_name = "size" if square or dims == 1 else AXES[dims][axis]
        yield Hit(layer.node, fmt={"layer": short, "axis": axis_name, "out": spatial_out[axis],
                                   "chain": "→".join(chain), "what": what, "last": spatial_in[axis]},
                  data={"app": app, "trail": shapes.trail(app)})


def _channels_first_image(shape: tuple) -> bool:
    """A sample shape (c, h, w) with c in {1, 3, 4} and h, w >= 8 (KC018's pattern)."""
    if len(shape) != 4 or not all(isinstance(d, int) for d in shape[1:]):
        return False
    c, h, w = shape[1:]
    return c in (1, 3, 4) and h >= 8 and w >= 8


def _along(value, dims: int, axis: int) -> int | None:
    value = (value,) * dims if isinstance(value, int) else value
    return value[axis] if isinstance(value, (tuple, list)) and len(value) == dims else None


def _window(ctx: Context, app: Apply, short: str, dims: int, axis: int) -> str | None:
    """What does not fit: 'a kernel of 3', 'a kernel of 3 dilated by 2 (5 wide)', 'a pooling window of 2'."""
    shapes = ctx.shapes
    layer = app.layer
    if short in POOLS:
        size = _along(shapes.arg(layer, "pool_size", 0, 2), dims, axis)
        return f"a pooling window of {size}" if size is not None else None
    kernel = _along(shapes.arg(layer, "kernel_size", 0 if short.startswith("Depthwise") else 1), dims, axis)
    dilation = _along(shapes.arg(layer, "dilation_rate", 5, 1), dims, axis)
    if kernel is None or dilation is None:
        return None
    if dilation == 1:
        return f"a kernel of {kernel}"
    return f"a kernel of {kernel} dilated by {dilation} ({(kernel - 1) * dilation + 1} wide)"
