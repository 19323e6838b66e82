"""Dropout layer feeding a BatchNormalization layer.

## What it does
Flags a Keras `BatchNormalization` layer whose input comes from a `Dropout`,
`SpatialDropout1D/2D/3D` or `GaussianDropout` layer, directly or through
layers that keep the shift (ReLU, LeakyReLU, `Activation("relu")`, Flatten,
Reshape, Permute, max and average pooling), whichever syntax connects them:
a `Sequential` list, `model.add` calls, a functional chain or the sublayers of
a subclassed layer applied in `call()`.

## Why is this bad?
During training, dropout zeroes units and scales the survivors by
1/(1-rate), and BatchNormalization learns its moving mean and variance from
those dropped-out activations. At inference dropout is the identity, so BN
normalizes inputs whose variance no longer matches its statistics: measured
with TF 2.21 / Keras 3.15, BN's moving variance is 2.4x the variance it sees
at inference after `Dropout(0.5)` on ReLU features (1.1x at rate 0.1), and
the BN output's standard deviation at predict is 0.62 instead of ~1. The
statistics are wrong; the effect on accuracy depends on the model.

Not flagged: BN then Dropout; Dropout then Dense/Conv then BN (the usual
block; the shift is smaller and flagging it would cry wolf); Layer- and
GroupNormalization (no moving statistics); a rate that is a literal 0;
`GaussianNoise` and `AlphaDropout` (their shift depends on the activation
scale); dropout applied with `training=True` inside a subclassed layer's
`call()` or in legacy Keras 2 (`tf_keras`), where it stays on at inference
(Monte-Carlo dropout). In a Keras 3 functional model `Dropout(r)(x,
training=True)` is *not* Monte-Carlo: `predict()` runs the graph with
training=False and drops nothing (measured: 0 % zeros at predict, 50 % from
`model(x)`; tests/measurements/kc001_functional_training_true.py), so BN's
statistics are shifted there too and it is flagged.

A helper that makes the Dropout only under an `if` on one of its parameters
(`def block(x, dropout_rate=0): if dropout_rate: x = Dropout(dropout_rate)(x)`)
is judged at its calls: flagged at the call whose arguments (or the default it
leaves out) take the branch (`block(x, dropout_rate=0.3)`), with the Dropout
and the BN inside the helper as related places; silent when every call in the
file skips it, or when no call gives a known value (a helper run on its own is
judged by its default). One BatchNormalization object listed twice in a
`Sequential` model is not flagged either: measured, Keras 3 and tf_keras both
apply it at every listing with one set of moving statistics (ratio 0.9 at one
listing, 2.3-2.6 at the other; tests/measurements/kc001_repeated_instance.py;
with different widths both raise at build), so the sharing is the bug and
moving the Dropout would not fix it.

## Example
    model = keras.Sequential([
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.BatchNormalization(),
    ])

## Use instead
    model = keras.Sequential([
        layers.Dense(128, activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.5),
    ])

## Fix safety
When the Dropout and the BatchNormalization are next to each other, the fix swaps them:
two neighbouring elements of one `Sequential([...])` list, two consecutive
`model.add(...)` statements on the same model, or a functional chain where the BN reads the
Dropout's output and nothing else does (`BN()(Dropout(r)(x))`, or `x = Dropout(r)(x)` whose
`x` only the BN reads), each layer constructed in place and applied to one tensor, so the
same tensors flow after the swap. It is unsafe: the model changes (BN's statistics, the
order of its layers and weights, so checkpoints saved before no longer load by position)
and must be trained again. With a layer in between (ReLU, pooling) there is no fix, nor
where the swap would put another Dropout before a BN (a Dropout before the pair, or a
Dropout or BN after it).

## Confirm mode
`--confirm` builds a ReLU producer followed by the flagged layers, from the dropout through the
BN, constructed from their own source (with the values the code gives them: a default, a helper's
argument, else a synthesised one, said in the evidence); of the file, only those constructor calls
run, after the slice of imports, definitions and constants they use (README, Confirm mode). The producer gives the dropout the input
shape the code gives it (its `Input(shape=...)` and the layers between, rebuilt symbolically; an
`input_shape=`): Dense(d, relu) for (None, d), ConvND(c, same, relu) for (None, ..., c), at most
4096 values per sample; else Dense(32), or Conv1D/2D/3D(8) when the layers need rank 3-5. It runs
500 training-mode passes on N(0, 1) data (seed 0), then compares BN's moving variance with the
variance of its input at `training=False`. `confirmed` when the ratio exceeds 1.05: measured 1.15
(Dropout(0.1)) to 2.42 on the positive fixtures, 0.98 on every clean look-alike (BN before
dropout, rate 0). tf_keras code is built with Keras 2.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import Apply, Context, Edit, Fix, Hit, Rule, cst, literal_number, literal_string

# Canonical names only; each set has a measurement in KERAS_FACTS.md behind it.
DROPOUTS = frozenset({  # F1.2, F1.4 (SpatialDropout3D: the 3-D form of SpatialDropout2D)
    "keras.layers.Dropout", "keras.layers.SpatialDropout1D", "keras.layers.SpatialDropout2D",
    "keras.layers.SpatialDropout3D", "keras.layers.GaussianDropout",
})
BATCHNORMS = frozenset({"keras.layers.BatchNormalization", "keras.layers.SyncBatchNormalization"})  # F1.12
# Layers that keep the shift when they stand between the dropout and BN (F1.7, F1.9).
LOOK_THROUGH = frozenset({
    "keras.layers.LeakyReLU", "keras.layers.Flatten", "keras.layers.Reshape", "keras.layers.Permute",
    "keras.layers.MaxPooling1D", "keras.layers.MaxPooling2D", "keras.layers.MaxPooling3D",
    "keras.layers.MaxPool1D", "keras.layers.MaxPool2D", "keras.layers.MaxPool3D",
    "keras.layers.AveragePooling1D", "keras.layers.AveragePooling2D", "keras.layers.AveragePooling3D",
    "keras.layers.AvgPool1D", "keras.layers.AvgPool2D", "keras.layers.AvgPool3D",
    "keras.layers.GlobalAveragePooling1D", "keras.layers.GlobalAveragePooling2D",
    "keras.layers.GlobalAveragePooling3D", "keras.layers.GlobalAvgPool1D",
    "keras.layers.GlobalAvgPool2D", "keras.layers.GlobalAvgPool3D",
})
RELU_FUNCTIONS = frozenset({"keras.activations.relu", "tensorflow.nn.relu", "keras.ops.relu"})
MAX_DEPTH = 8

RULE = Rule(
    "KC001", "dropout-before-batchnorm",
    "{src} (line {src_line}) feeds {dst}{through}: BN learns its moving variance on dropped-out "
    "activations, so at inference it normalizes with statistics that do not match its input",
    severity="warning",
    needs=((b"BatchNormalization", b"Dropout"),),
    anchors=(*DROPOUTS, *BATCHNORMS),
)

VALID = [
    # BN before dropout: the right order.
    "from keras import layers\nx = layers.Dropout(0.5)(layers.BatchNormalization()(x))\n",
    # Not Keras's BatchNormalization.
    "from keras import layers\nfrom mylib import BatchNormalization\n"
    "x = BatchNormalization()(layers.Dropout(0.5)(x))\n",
    # A weight layer in between.
    "import tensorflow as tf\nL = tf.keras.layers\n"
    "m = tf.keras.Sequential([L.Dropout(0.3), L.Dense(8), L.BatchNormalization()])\n",
    # A literal rate of 0 drops nothing.
    "from keras import layers\nx = layers.BatchNormalization()(layers.Dropout(0.0)(x))\n",
    # LayerNormalization keeps no moving statistics.
    "from keras import layers\nx = layers.LayerNormalization()(layers.Dropout(0.5)(x))\n",
]
INVALID = [
    "import tensorflow as tf\n"
    "x = tf.keras.layers.Dropout(0.2)(x)\n"
    "x = tf.keras.layers.BatchNormalization()(x)  # expect: KC001\n",
    "from keras.layers import Dropout as Drop, BatchNormalization, ReLU\n"
    "import keras\n"
    "model = keras.Sequential()\n"
    "model.add(Drop(0.5))\n"
    "model.add(ReLU())\n"
    "model.add(BatchNormalization())  # expect: KC001\n",
]


def _is_true(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


def is_literal_bool(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value in ("True", "False")


def drops(app: Apply) -> bool:
    layer = app.layer
    if layer.name not in DROPOUTS:
        return False
    arg = layer.arg("rate", 0)
    rate = literal_number(arg)
    if rate is None and _parameter(layer, arg):  # `Dropout(rate)` in a helper whose caller gives 0.0
        given = layer.value("rate", 0)
        rate = float(given.lit) if given is not None and given.kind == "literal" and \
            isinstance(given.lit, (int, float)) and not isinstance(given.lit, bool) else None
    if rate is not None and rate == 0:
        return False
    # Monte-Carlo dropout (`training=True`) is on at inference too, so BN sees the same statistics:
    # inside a subclass's call() (F2.9) and in legacy Keras 2. Not in a Keras 3 functional or
    # Sequential graph: predict() runs it with training=False anyway (measured, TF 2.21 / Keras
    # 3.15: 0 % zeros at predict vs 50 % from model(x); tf_keras: 49 % at predict).
    if _is_true(app.kwarg("training")):
        return app.via != "subclass" and app.layer.canon.flavor in ("keras", "tf.keras")
    return True


def _parameter(layer, arg) -> bool:
    """Is `arg` a parameter of the function that makes the layer (a value its caller gives)?"""
    fn = layer.site.function
    if not isinstance(arg, cst.Name) or not isinstance(fn, cst.FunctionDef):
        return False
    params = fn.params
    return any(p.name.value == arg.value for p in (*params.posonly_params, *params.params, *params.kwonly_params))


def keeps_shift(ctx: Context, app: Apply) -> bool:
    layer = app.layer
    if layer.name in LOOK_THROUGH:
        return True
    if layer.name == "keras.layers.ReLU":
        # ReLU(max_value=6) saturates, like tanh: the shift shrinks (F1.8).
        return layer.arg("max_value", 0) is None or _is_none(layer.arg("max_value", 0))
    if layer.name == "keras.layers.Activation":
        act = layer.arg("activation", 0)
        name = literal_string(act)
        if name is not None:
            return name in ("relu", "leaky_relu")
        if act is not None:
            canon = ctx.resolve(act, layer.site.scope)
            return canon is not None and canon.name in RELU_FUNCTIONS
    return False


def _is_none(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def feeding_dropouts(ctx: Context, app: Apply) -> Iterator[tuple[Apply, tuple[Apply, ...]]]:
    """Dropout applications reaching `app`, with the look-through layers between."""
    pic = ctx.picture
    stack = [(p, ()) for p in pic.producers(app)]
    seen: set[int] = set()
    while stack:
        producer, between = stack.pop()
        if id(producer) in seen or len(between) > MAX_DEPTH:
            continue
        seen.add(id(producer))
        if drops(producer):
            yield producer, between
        elif keeps_shift(ctx, producer):
            stack.extend((p, (*between, producer)) for p in pic.producers(producer))


DECIDED = ("{src} (line {src_line}) feeds {dst} (line {dst_line}){through} in `{helper}()` with the arguments "
           "of this call: BN learns its moving variance on dropped-out activations, so at inference it "
           "normalizes with statistics that do not match its input")


def check(ctx: Context) -> Iterator[Hit]:
    found: dict[tuple[int, int], dict] = {}
    for app in ctx.picture.applies:
        if app.layer.name not in BATCHNORMS or is_literal_bool(app.kwarg("training")):
            # training=True: batch statistics always; training=False: its moving statistics
            # are frozen and never learned from the dropped-out activations.
            continue
        if any(a.repeat for a in ctx.picture.applications(app.layer)):
            # One BN object listed twice in a Sequential model: applied at every listing with one
            # set of statistics (tests/measurements/kc001_repeated_instance.py): the sharing is the
            # bug, and moving the Dropout would not fix it.
            continue
        for drop, between in feeding_dropouts(ctx, app):
            chain = (drop, *between, app)
            if any(a.conditional for a in chain):
                continue  # only under an `if` on a parameter no call here gives: the caller decides
            key = (id(app.layer.node), id(drop.layer.node))
            decided = next((a.decided for a in chain if a.decided is not None), None)
            if key in found:
                if decided is not None and found[key]["decided"] is not None \
                        and decided is not found[key]["decided"] and decided not in found[key]["also"]:
                    found[key]["also"].append(decided)
                continue
            found[key] = {"drop": drop, "app": app, "between": between, "decided": decided, "also": []}
    for item in found.values():
        drop, app, between, decided = item["drop"], item["app"], item["between"], item["decided"]
        through = ""
        if between:
            through = " through " + ", ".join(b.layer.short for b in reversed(between))
        fmt = {"src": drop.layer.short, "dst": app.layer.short, "through": through}
        related = {"src": (drop.layer.node, f"the {drop.layer.short} that feeds it")}
        data = {"src": drop, "dst": app, "between": tuple(reversed(between))}
        if decided is None:
            yield Hit(app.layer.node, fmt=fmt, related=related, data=data,
                      fix=None if between else swap_fix(ctx, drop, app))
            continue
        # The pair exists because this call's arguments chose the branch that makes it: report
        # it here, where the choice is made, with the layers inside the helper as related places.
        helper = drop.site.function
        related["dst"] = (app.layer.node, f"the {app.layer.short} it feeds")
        for i, call in enumerate(item["also"]):
            related[f"also{i}"] = (call, "another call that makes the same pair")
        yield Hit(decided, fmt={**fmt, "helper": helper.name.value if isinstance(helper, cst.FunctionDef) else "?"},
                  related=related, data=data, message=DECIDED)


def swap_fix(ctx: Context, drop: Apply, bn: Apply) -> Fix | None:
    """Swap a Dropout and the BN right after it, where exchanging their text keeps every tensor
    flowing where it did."""
    pic = ctx.picture
    if len(pic.applications(drop.layer)) != 1 or len(pic.applications(bn.layer)) != 1:
        return None  # a shared layer: swapping its text would move its other uses too
    # The swap must not make another Dropout feed a BN (Dropout, Dropout, BN / BN, Dropout, BN
    # chains): one pass settles it, and no layer hops along the chain pass after pass.
    if any(drops(p) for p in pic.producers(drop)) or any(
            a.layer.name in DROPOUTS | BATCHNORMS for a in pic.applies if any(p is bn for p in pic.producers(a))):
        return None
    first = second = None
    if drop.via == bn.via == "sequential" and bn.adjacent:
        first, second = drop.layer.node, bn.layer.node
        if not (drop.node is first and bn.node is second and _neighbours(ctx, first, second)):
            return None
    elif drop.via == bn.via == "add":
        first, second = _add_argument(ctx, drop), _add_argument(ctx, bn)
        if first is None or second is None or not _next_statements(ctx, drop.node, bn.node):
            return None
    elif drop.via == bn.via == "functional" and drop.call is not None and bn.call is not None:
        if not (_single(drop) and _single(bn) and _feeds_only(ctx, drop.call, bn.call)):
            return None
        first, second = drop.call.func, bn.call.func
    else:
        return None
    return Fix((Edit(first, ctx.code(second)), Edit(second, ctx.code(first))), "unsafe",
               f"Swap {drop.layer.short} and {bn.layer.short} (the model changes: train it again)")


def _neighbours(ctx: Context, first: cst.CSTNode, second: cst.CSTNode) -> bool:
    """Two constructor calls that are consecutive elements of one list or tuple."""
    a, b = ctx.parent(first), ctx.parent(second)
    if not (isinstance(a, cst.Element) and isinstance(b, cst.Element)):
        return False
    seq = ctx.parent(a)
    if seq is not ctx.parent(b) or not isinstance(seq, (cst.List, cst.Tuple)):
        return False
    elements = list(seq.elements)
    i = next((k for k, el in enumerate(elements) if el is a), None)
    return i is not None and i + 1 < len(elements) and elements[i + 1] is b


def _add_argument(ctx: Context, app: Apply) -> cst.CSTNode | None:
    """The layer constructed in place as the one argument of `model.add(...)`, a statement of its own."""
    call = app.node
    if not (isinstance(call, cst.Call) and len(call.args) == 1 and call.args[0].keyword is None
            and not call.args[0].star and call.args[0].value is app.layer.node):
        return None
    return app.layer.node if isinstance(ctx.parent(call), cst.Expr) else None


def _next_statements(ctx: Context, a: cst.Call, b: cst.Call) -> bool:
    """`a` and `b` are statements (`model.add(...)`) one after the other in one block, on the same model."""
    if not (isinstance(a.func, cst.Attribute) and isinstance(b.func, cst.Attribute)
            and a.func.value.deep_equals(b.func.value)):
        return False
    line_a, line_b = ctx.parent(ctx.parent(a)), ctx.parent(ctx.parent(b))
    if not (isinstance(line_a, cst.SimpleStatementLine) and isinstance(line_b, cst.SimpleStatementLine)
            and len(line_a.body) == 1 and len(line_b.body) == 1):
        return False
    block = ctx.parent(line_a)
    if block is not ctx.parent(line_b):
        return False
    body = list(block.body)
    i = next((k for k, stmt in enumerate(body) if stmt is line_a), None)
    return i is not None and i + 1 < len(body) and body[i + 1] is line_b


def _single(app: Apply) -> bool:
    """`Layer(...)(x)`: constructed in place, applied to one positional tensor, nothing else."""
    call = app.call
    return (call.func is app.layer.node and len(call.args) == 1 and call.args[0].keyword is None
            and not call.args[0].star)


def _feeds_only(ctx: Context, drop: cst.Call, bn: cst.Call) -> bool:
    """The BN's input is the Dropout's output, and nothing else reads that output."""
    given = bn.args[0].value
    if given is drop:
        return True
    if not isinstance(given, cst.Name):
        return False
    assign = ctx.parent(drop)
    if not (isinstance(assign, cst.Assign) and assign.value is drop and len(assign.targets) == 1
            and isinstance(assign.targets[0].target, cst.Name)):
        return False
    target = assign.targets[0].target
    uses = ctx.uses(target)
    return len(uses) == 1 and uses[0] is given and ctx.definition(given) is drop
