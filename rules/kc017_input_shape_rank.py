"""An input shape with the wrong number of dimensions for the layer that reads it.

## What it does
Flags the literal input shape of a layer that needs a fixed number of dimensions per sample,
when the length is wrong:

- the first layer of a `Sequential` model: `input_shape=`, `batch_input_shape=` (one longer:
  it holds the batch) or `input_dim=` (one dimension);
- an `Input(shape=...)` / `InputLayer` whose tensor reaches such a layer directly (or through
  layers that keep the shape, like Dropout or BatchNormalization).

Conv1D, pooling 1D and recurrent layers (LSTM, GRU, SimpleRNN, also in `Bidirectional`) need 2
dimensions per sample (steps, features); Conv2D and 2-D pooling, padding, cropping and
upsampling 3 (height, width, channels); Conv3D 4; `TimeDistributed(layer)` one more than its
layer. When the shape starts with `None` and is one too long, the message says it includes the
batch dimension.

Silent: `(None, features)` for a recurrent layer (a variable number of steps is the right
length), `input_shape` on a layer that is not first (Keras ignores it), models that start with
a `Reshape`, `Dense` or `Embedding` (any rank), shapes that are not literals or same-file
constants.

## Why is this bad?
Keras adds the batch dimension itself; the input shape is one sample. A grayscale image given
as `(28, 28)` to a Conv2D, a feature vector `(100,)` to a Conv1D or LSTM, or a shape with the
batch in it `(None, 28, 28, 1)` cannot build: measured with Keras 3.15 and tf_keras 2.21
(tests/measurements/kc017_input_shape_rank.py), each raises `Input 0 of layer "conv2d" is
incompatible with the layer: expected min_ndim=4, found ndim=3` (or `Kernel shape must have
the same length as input`) when the Sequential model is built; tf_keras accepts the extra
batch dimension on Conv2D and fails at the next Dense. Keras 3 also reads a recurrent layer's
legacy `input_dim=5` as `input_shape=(5,)` and raises, where tf_keras read it as `(None, 5)`.
The error names the rank, not the fix; this rule names the fix.

## Example
    model = keras.Sequential([
        layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28)),
        layers.LSTM(64, input_shape=(None, 10, 8)),
    ])

## Use instead
    model = keras.Sequential([
        layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),  # and x[..., None]
    ])
    rnn = keras.Sequential([layers.LSTM(64, input_shape=(10, 8))])

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds `Sequential([layer])` (or `Input` -> layer) from the flagged code's own
source and reports the error Keras raises (`confirmed`), or the output shape when it builds
(`not reproduced`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kerascheck.rule import INPUT_RANK, NOT_CONSTANT, Apply, Context, Hit, LayerDef, Rule, cst, literal_value

WRAPPERS = frozenset({"Bidirectional", "TimeDistributed"})
WHAT = {1: "(features,)", 2: "(steps, features)", 3: "(height, width, channels)", 4: "(depth, height, width, channels)"}
CONV_LSTM = {"ConvLSTM1D": "(steps, length, channels)", "ConvLSTM2D": "(steps, height, width, channels)",
             "ConvLSTM3D": "(steps, depth, height, width, channels)"}
RNNS = frozenset({"LSTM", "GRU", "SimpleRNN", "CuDNNLSTM", "CuDNNGRU"})

RULE = Rule(
    "KC017", "input-shape-rank",
    "{given} gives {got} dimension{s} per sample, but {layer} needs {need} {what}{fix}; Keras raises when "
    "the model is built",
    severity="error",
    needs=tuple((word, source) for word in (b"Conv", b"Pool", b"LSTM", b"GRU", b"SimpleRNN", b"UpSampling",
                                            b"Padding", b"Cropping", b"Bidirectional", b"TimeDistributed")
                for source in (b"input_shape=", b"input_dim=", b"Input(", b"InputLayer(")),
    # Where a shape is given: an Input, or the first layer of a Sequential model (and what the calls tie to it).
    anchors=("keras.Input", "keras.InputLayer", "keras.Sequential"),
)

VALID = [
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Conv2D(8, 3, input_shape=(28, 28, 1)), layers.LSTM(4)])\n",
    # A variable number of steps is the right length for an RNN.
    "import keras\nfrom keras import layers\nm = keras.Sequential([layers.LSTM(8, input_shape=(None, 5))])\n",
    # A Reshape first: any input rank.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Reshape((28, 28, 1), input_shape=(784,)), layers.Conv2D(8, 3)])\n",
    # Not the first layer: Keras ignores its input_shape.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(8, 3, input_shape=(28, 28))])\n",
]
INVALID = [
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Conv2D(8, 3, input_shape=(28, 28))])  # expect: KC017\n",
    "import tensorflow as tf\nL = tf.keras.layers\nm = tf.keras.Sequential()\n"
    "m.add(L.LSTM(8, input_shape=(None, 10, 5)))  # expect: KC017\n",
    "import keras\ninp = keras.Input(shape=(100,))  # expect: KC017\n"
    "x = keras.layers.Conv1D(8, 3)(inp)\n",
]


def needed_rank(ctx: Context, layer: LayerDef) -> tuple[int, str] | None:
    """(Dimensions per sample the layer needs, what they are), or None when any number works or
    it is not known."""
    short = layer.short
    if short in CONV_LSTM:
        return INPUT_RANK[short], CONV_LSTM[short]
    if short in INPUT_RANK:
        return INPUT_RANK[short], WHAT[INPUT_RANK[short]]
    if short in WRAPPERS:
        inner = layer.value("layer", 0)
        if inner is None or inner.kind != "layer" or inner.layer is None or inner.layer.canon.flavor is None:
            return None
        got = needed_rank(ctx, inner.layer)
        if got is None:
            return None
        if short == "Bidirectional":
            return got if inner.layer.short in RNNS else None
        return got[0] + 1, "(steps, " + got[1][1:]
    return None


def _dims(value) -> bool:
    return isinstance(value, (tuple, list)) and all(
        v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value)


def _declared(ctx: Context, layer: LayerDef) -> tuple[str, int, bool, object, object] | None:
    """(what was given, as source; dimensions per sample; starts with None; the value; its expression)."""
    shapes = ctx.shapes
    given = [k for k in ("input_shape", "batch_input_shape", "input_dim") if layer.given(k)]
    if len(given) != 1 or layer.opaque:
        return None
    key = given[0]
    value = shapes.arg(layer, key)
    if value is NOT_CONSTANT:
        return None
    node = layer.arg(key)
    expr = ctx.code(node)
    if key == "input_dim":
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        if layer.short in RNNS or layer.short in WRAPPERS:
            # Legacy Keras read a recurrent layer's input_dim as (input_length, input_dim); Keras 3 as (input_dim,).
            if ctx.facts.flavor_keras(layer.canon.flavor) != "3" or layer.given("input_length") is not False:
                return None
            return f"`input_dim={expr}` (Keras 3 reads it as `input_shape=({expr},)`)", 1, False, value, node
        return f"`input_dim={expr}`", 1, False, value, node
    if not _dims(value) or not value:
        return None
    if key == "batch_input_shape":
        return f"`batch_input_shape={expr}`", len(value) - 1, False, value, node
    return f"`input_shape={expr}`", len(value), value[0] is None, value, node


@dataclass(frozen=True)
class Given:
    """An input shape as written: where, as shown in the message, and what it holds."""

    node: cst.CSTNode  # what is reported: the first layer, or the Input
    text: str  # "`input_shape=(28, 28)`"
    got: int  # dimensions per sample
    starts_none: bool
    value: Any  # the shape per sample (or input_dim)
    expr: cst.BaseExpression
    input_def: LayerDef | None = None  # the Input, when it is one


def given_shape(ctx: Context, app: Apply) -> Given | None:
    """The literal input shape that `app` reads: its own `input_shape=` (first layer of a
    Sequential model) or the `Input` that reaches it through shape-keeping layers."""
    layer = app.layer
    if app.first:
        found = _declared(ctx, layer)
        return Given(layer.node, *found) if found is not None else None
    input_def = ctx.shapes.input_source(app)
    shape = ctx.shapes.source(input_def) if input_def is not None else None
    if shape is None:
        return None
    keyword = next((k for k in ("shape", "input_shape", "batch_shape", "batch_input_shape")
                    if input_def.arg(k, 0 if k == "shape" else None) is not None), None)
    if keyword is None:
        return None
    expr = input_def.arg(keyword, 0 if keyword == "shape" else None)
    value = shape[1:]
    starts_none = keyword in ("shape", "input_shape") and bool(value) and value[0] is None
    text = f"`{ctx.code(input_def.node.func)}({keyword}={ctx.code(expr)})`"
    return Given(input_def.node, text, len(shape) - 1, starts_none, value, expr, input_def)


def check(ctx: Context) -> Iterator[Hit]:
    reported: set[int] = set()
    for app in ctx.picture.applies:
        layer = app.layer
        if layer.canon.flavor is None:
            continue
        needed = needed_rank(ctx, layer)
        if needed is None:
            continue
        need, what = needed
        shape = given_shape(ctx, app)
        if shape is None or shape.got == need or id(shape.node) in reported:
            continue
        given, got, value = shape.text, shape.got, shape.value
        if literal_value(shape.expr) is NOT_CONSTANT and isinstance(value, (tuple, list, int)):
            given += f" {_tuple(value) if isinstance(value, (tuple, list)) else value}"
        fix = ""
        if shape.starts_none and got == need + 1:
            fix = f": it includes the batch dimension, which Keras adds itself; write {_tuple(value[1:])}"
        elif got == need - 1 and what.endswith("channels)"):
            fix = f" (is the channel axis missing? {_tuple((*value, 1))} for one channel)"
        reported.add(id(shape.node))
        related, message = {}, None
        if shape.input_def is not None:
            related = {"layer": layer.node}
            message = RULE.message.replace("but {layer} needs", "but {layer} (line {layer_line}) needs")
        yield Hit(shape.node, fmt={"given": given, "got": got, "s": "" if got == 1 else "s", "layer": layer.short,
                                   "need": need, "what": what, "fix": fix},
                  related=related, message=message, data={"app": app, "need": need})


def _tuple(dims) -> str:
    items = ", ".join("None" if d is None else str(d) for d in dims)
    return f"({items},)" if len(dims) == 1 else f"({items})"
