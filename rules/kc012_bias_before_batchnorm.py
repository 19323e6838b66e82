"""A bias that the BatchNormalization right after it cancels.

## What it does
Flags a `Dense`, `Conv1D/2D/3D` (also transposed), `DepthwiseConv1D/2D` or
`SeparableConv1D/2D` layer whose bias is on (`use_bias` left at its default or
`True`) and which has no activation (`activation` absent, `None` or
`"linear"`), when its output goes only to a Keras `BatchNormalization` on its
default (last) axis, directly or through `Flatten`, or a `Reshape` that keeps
the channels last. Any syntax: a `Sequential` list, `model.add`, a functional
chain, the sublayers of a subclassed layer in `call()`.

This rule is `info` and opt-in: enable it with `--select KC012` (or
`select = ["KC012"]`); a prefix such as `KC0` or `ALL` does not turn it on.

Not flagged: an activation in the layer or between it and BN (the bias then
matters: N10.2), `LayerNormalization`/`GroupNormalization` (they normalize per
sample), a BN on another axis or applied with `training=False` or built with
`trainable=False` (it normalizes with its frozen moving mean, so the bias
shifts the output), a convolution with `data_format="channels_first"` (or a file
that sets the image data format) unless a `Flatten` stands between, a layer whose
output is also used elsewhere (a skip connection), and whatever is not
provable (`use_bias=flag`, unknown `**kwargs`).

## Why is this bad?
In training, BN subtracts each channel's batch mean, and a per-channel
constant added just before it cancels exactly; at inference BN's moving mean
has learned the same constant. So the bias does nothing: measured with Keras
3.15 (KERAS_FACTS_2 N10.1), Dense(16) -> BN gets a gradient norm of 2.4e-8 on
the bias against 0.28 on the kernel, shifting the bias by +5 changes the
training-mode output by 6.6e-7, and 20 epochs of Adam move it by 8e-4
(Conv2D(16, 3) -> BN: 1.1e-7 against 0.17). BN's own `beta` is the shift. It
is dead weight, not a bug: 16 of 144 parameters for Dense(16) on 8 inputs,
0.17 % for Conv2D(64, 3) on 64 channels (N10.3), and one more add per unit.

## Example
    x = layers.Conv2D(64, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)

## Use instead
    x = layers.Conv2D(64, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)

## Fix safety
No fix is offered: a model built with `use_bias=False` can no longer load
weights saved with the bias (Keras 3.15: `ValueError: A total of 1 objects could
not be loaded ... Layer 'dense' expected 1 variables, but received 2 variables
during loading`, N10.4). Change it when you train from scratch.

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds the flagged layer and every layer from it to the BN, from
their own source, on a small input (Dense: (8,), else (8, 8) or (4, 4, 8) when a
Reshape needs it; 1D/2D/3D convolutions: (16, 3) / (8, 8, 3) / (6, 6, 6, 3)), with a
`Dense(1)` head, gives the bias random values (seed 0) and takes the gradient of a
mean-squared error on random targets in training mode. `confirmed` when the
bias's gradient norm is below 1e-4 times the kernel's: measured 1.8e-8 to 4.2e-6
on the fixtures (N10.1: 2.4e-8 / 0.28); the look-alikes (an activation or dropout
between, Layer/GroupNormalization, BN on axis 1, a Reshape that moves the
channels) 0.08 to 0.24.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import Apply, Context, Hit, LayerDef, Rule, cst, literal_number, literal_string, literal_value

# Weight layers with a per-channel bias -> how many positional arguments they require (more
# positionals would reach `activation`/`use_bias`, whose positions differ between layers).
PRODUCERS = {
    "keras.layers.Dense": 1,
    **{f"keras.layers.{kind}{n}D": 2 for kind in ("Conv", "Convolution") for n in (1, 2, 3)},
    **{f"keras.layers.{kind}{n}DTranspose": 2 for kind in ("Conv", "Convolution") for n in (1, 2, 3)},
    **{f"keras.layers.{kind}{n}D": 2 for kind in ("SeparableConv", "SeparableConvolution") for n in (1, 2)},
    **{f"keras.layers.DepthwiseConv{n}D": 1 for n in (1, 2)},
}
BATCHNORMS = frozenset({"keras.layers.BatchNormalization", "keras.layers.SyncBatchNormalization"})
LINEAR = frozenset({"keras.activations.linear"})
MAX_DEPTH = 4

RULE = Rule(
    "KC012", "bias-before-batchnorm",
    "{src}'s bias is cancelled by the {dst} (line {dst_line}) it feeds{through}: BN subtracts each channel's batch "
    "mean, so the bias gets no gradient and only costs parameters; pass `use_bias=False` (BN's beta is the shift)",
    severity="info",
    default=False,
    needs=((b"BatchNormalization", b"Dense"), (b"BatchNormalization", b"Conv")),
    anchors=BATCHNORMS,  # the weight layer is in the same function, its class or a helper it calls
)

VALID = [
    "from keras import layers\nx = layers.BatchNormalization()(layers.Dense(64, use_bias=False)(x))\n",
    # An activation first: the bias matters (N10.2).
    "from keras import layers\nx = layers.BatchNormalization()(layers.Dense(64, activation='relu')(x))\n",
    "from keras import layers\nx = layers.BatchNormalization()(layers.ReLU()(layers.Conv2D(8, 3)(x)))\n",
    # Per-sample normalization, and BN on another axis.
    "from keras import layers\nx = layers.LayerNormalization()(layers.Dense(64)(x))\n",
    "from keras import layers\nx = layers.BatchNormalization(axis=1)(layers.Conv2D(8, 3)(x))\n",
    # The output is used twice: the skip connection sees the bias.
    "from keras import layers\nh = layers.Dense(64)(x)\ny = layers.Add()([h, layers.BatchNormalization()(h)])\n",
]
INVALID = [
    "from keras import layers\nx = layers.Conv2D(64, 3)(x)  # expect: KC012\nx = layers.BatchNormalization()(x)\n",
    "import tensorflow as tf\nm = tf.keras.Sequential([\n"
    "    tf.keras.layers.Dense(32, activation=None),  # expect: KC012\n"
    "    tf.keras.layers.BatchNormalization(),\n    tf.keras.layers.ReLU(),\n])\n",
]


def _true(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


def _false(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"


def _none(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def _default_axis(layer: LayerDef) -> bool:
    if layer.given("axis", 0) is None:
        return False
    axis = layer.arg("axis", 0)
    return axis is None or literal_value(axis) in (-1, [-1], (-1,))


def _normalizes_batches(app: Apply) -> bool:
    """A BN that subtracts the batch mean where it is applied (not frozen, not in inference mode)."""
    layer = app.layer
    return (layer.name in BATCHNORMS and _default_axis(layer) and not _false(layer.arg("trainable"))
            and not _false(app.kwarg("training")))


def _linear(ctx: Context, layer: LayerDef) -> bool:
    expr = layer.arg("activation")
    if expr is None or _none(expr):
        return True
    if literal_string(expr) == "linear":
        return True
    if isinstance(expr, (cst.Name, cst.Attribute)):
        canon = ctx.resolve(expr, layer.site.scope)
        return canon is not None and canon.flavor is not None and canon.name in LINEAR
    return False


def _has_bias(ctx: Context, layer: LayerDef) -> bool:
    if layer.opaque or layer.given("use_bias") is None:
        return False
    positional = sum(1 for a in layer.node.args if a.keyword is None)
    if positional > PRODUCERS[layer.name]:
        return False
    use_bias = layer.arg("use_bias")
    return (use_bias is None or _true(use_bias)) and _linear(ctx, layer)


def _channels(layer: LayerDef) -> float | None:
    """The layer's literal number of output channels (units / filters)."""
    if layer.name == "keras.layers.Dense":
        return literal_number(layer.arg("units", 0))
    if "Depthwise" in layer.name:
        return None
    return literal_number(layer.arg("filters", 0))


def _keeps_channels(reshape: LayerDef, channels: float | None) -> bool:
    target = literal_value(reshape.arg("target_shape", 0))
    return (channels is not None and isinstance(target, (tuple, list)) and len(target) > 0
            and target[-1] == channels)


def _consumers(ctx: Context) -> dict[int, list[Apply]]:
    """Application -> the applications that read its output (also as one alternative of a value
    that a branch chose: `if bn: x = BN()(x)` then `ReLU()(x)` reads the Dense output too)."""
    found: dict[int, list[Apply]] = {}
    for app in ctx.picture.applies:
        for producer in ctx.picture.producers(app):
            found.setdefault(id(producer), []).append(app)
    return found


def _only_feeds(ctx: Context, producer: Apply, consumer: Apply, consumers: dict[int, list[Apply]]) -> bool:
    """Does the output of `producer` go to `consumer` and nowhere else, but to other BNs (a
    BN chosen between branches: `SyncBatchNormalization` or `BatchNormalization`)?"""
    readers = [a for a in consumers.get(id(producer), ()) if a is not consumer]
    if any(not _normalizes_batches(a) for a in readers):
        return False
    if producer.via in ("sequential", "add"):
        return consumer.via in ("sequential", "add") and bool(consumer.inputs) and any(
            v.app is producer for v in consumer.inputs[0].alternatives())
    call, calls = producer.call, [a.call for a in (consumer, *readers)]
    if call is None or any(c is None for c in calls):
        return False
    parent = ctx.parent(call)
    if isinstance(parent, cst.Arg):
        return ctx.parent(parent) is consumer.call
    if not isinstance(parent, cst.Assign) or len(parent.targets) != 1:
        return False
    name = parent.targets[0].target
    if not isinstance(name, cst.Name):
        return False
    uses = ctx.uses(name)
    inside = {id(n) for c in calls for arg in c.args for n in ctx.walk(arg.value)}
    return bool(uses) and all(id(u) in inside for u in uses)


def _data_format_set(ctx: Context) -> bool:
    return any(e.canon.short in ("set_image_data_format", "set_image_dim_ordering") for e in ctx.picture.calls)


def _chains(ctx: Context, bn: Apply, consumers: dict[int, list[Apply]]) -> Iterator[tuple[Apply, tuple[Apply, ...]]]:
    """(weight layer application, look-through applications between it and BN) feeding `bn`."""
    stack = [(p, bn, ()) for p in ctx.picture.producers(bn)]
    while stack:
        producer, consumer, between = stack.pop()
        if len(between) > MAX_DEPTH or not _only_feeds(ctx, producer, consumer, consumers):
            continue
        name = producer.layer.name
        if name in ("keras.layers.Flatten", "keras.layers.Reshape"):
            stack.extend((p, producer, (producer, *between)) for p in ctx.picture.producers(producer))
        elif name in PRODUCERS:
            yield producer, between


def _redundant(ctx: Context, weight: Apply, between: tuple[Apply, ...], set_format: bool) -> bool:
    layer = weight.layer
    if not _has_bias(ctx, layer):
        return False
    flatten = any(b.layer.name == "keras.layers.Flatten" for b in between)
    if layer.name != "keras.layers.Dense" and not flatten:
        data_format = layer.arg("data_format")
        if data_format is None:
            if set_format:
                return False
        elif literal_string(data_format) != "channels_last":
            return False
    channels = _channels(layer)
    for b in between:
        if b.layer.name == "keras.layers.Reshape" and not _keeps_channels(b.layer, channels):
            return False
    return True


def check(ctx: Context) -> Iterator[Hit]:
    pic = ctx.picture
    found: dict[int, tuple[Apply, Apply, tuple[Apply, ...]]] = {}  # weight application -> (bn, between)
    set_format: bool | None = None
    consumers: dict[int, list[Apply]] | None = None
    for bn in pic.applies:
        if not _normalizes_batches(bn):
            continue
        if consumers is None:
            consumers = _consumers(ctx)
        for weight, between in _chains(ctx, bn, consumers):
            if id(weight) in found:
                continue
            if set_format is None:
                set_format = _data_format_set(ctx)
            if _redundant(ctx, weight, between, set_format):
                found[id(weight)] = (weight, bn, between)
    # Report a layer when every application of it (a layer object shared, or built once per
    # loop iteration) feeds such a BN: a second use elsewhere needs its bias.
    reported: set[int] = set()
    for weight, bn, between in found.values():
        node = weight.layer.node
        if id(node) in reported:
            continue
        reported.add(id(node))
        if any(id(app) not in found for app in pic.applies if app.layer.node is node):
            continue
        through = ""
        if between:
            through = " through " + ", ".join(b.layer.short for b in between)
        yield Hit(node, fmt={"src": weight.layer.short, "dst": bn.layer.short, "through": through},
                  related={"dst": bn.layer.node},
                  data={"weight": weight, "bn": bn, "between": between})
