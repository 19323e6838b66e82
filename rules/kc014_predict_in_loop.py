"""`model.predict()` called on one sample at a time inside a loop.

## What it does
Flags `model.predict(x)` inside a `for` or `while` loop (or a comprehension)
when `x` is a batch of one sample built from what the loop varies over:
`x[i:i+1]`, `x[i][None]` / `x[np.newaxis]`, `x[[i]]`, `np.expand_dims(x[i], 0)`
(also `tf.` and `keras.ops.`), `x[i].reshape(1, ...)` / `np.reshape(x, (1, ...))`,
`np.array([x[i]])` (also `asarray`, `stack`, `vstack`, `tf.constant`,
`tf.convert_to_tensor`), directly or through names assigned in the loop
(`img = load(path); img = np.expand_dims(img, 0); model.predict(img)`), and
through what keeps such a batch as it is (`preprocess_input(x)`,
`x.astype("float32")`, `x / 255.0`).
`model` must be provably a Keras model: a `Sequential`/`Model`, a
`load_model`/`clone_model`/`keras.applications` result, an instance of the
file's own `keras.Model` subclass (also `self.predict` inside one), or a
parameter that every same-file caller passes such a model.

This rule is `info` and opt-in: enable it with `--select KC014` (or
`select = ["KC014"]`); a prefix such as `KC0` or `ALL` does not turn it on.

Not flagged: `predict` on a whole array or a batch (`x[i:i+32]`), per epoch or
per file; a plain `x[i]`, which may index a list of whole batches; a loop of at
most 10 iterations the code spells out (`range(5)`, `x_test[:8]`), where the
waste is a fraction of a second; `predict` of anything not provably a Keras
model (scikit-learn estimators, your own classes, an unknown parameter); a
batch that does not change with the loop; a `while True:` loop over a stream
(the sample is not built from a loop variable).

## Why is this bad?
`predict()` is built for many samples: each call sets up a data adapter, a
progress bar and callbacks, and runs the compiled predict step, whatever the
batch size. Measured with Keras 3.15 (KERAS_FACTS_2 N9.1, Input(16) -> Dense(64)
-> Dense(1)): `model.predict(x[i:i+1])` in a loop costs 32.5 ms per sample,
183x the per-sample cost of one batched `model.predict(x)` (0.18 ms);
`model.predict_on_batch(x[i:i+1])` costs 0.23 ms and `model(x[i:i+1],
training=False)` 0.69 ms, with outputs equal to 2.4e-7. A 10,000-image loop
spends five minutes in overhead.

## Example
    for i in range(len(x_test)):
        pred = model.predict(x_test[i:i + 1])

## Use instead
    preds = model.predict(x_test)            # one call, batched

    for i in range(len(x_test)):             # when each sample must be handled alone
        pred = model(x_test[i:i + 1], training=False)

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds the model the loop uses from its own source (the `Sequential`
or `Model` call, the file's model class, or the same-file function that returns
it; a model loaded from a file or downloaded cannot be built), makes 16 random
samples of its input shape, and times `predict` on each one-sample batch against
one `predict` of all 16 (after a warm-up of both). `confirmed` when the
per-sample cost in the loop is more than 10x the batched one (N9.1: 183x;
24-49x on the fixtures' small models on a busy 2-core machine, 1-2x for the
look-alikes' whole arrays). A large model on CPU is dominated by its own compute
and gains less from batching: MobileNetV2 on 224x224 inputs measured 5x
(`not reproduced`), where `model(x, training=False)` still saves the overhead.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import Context, Hit, MethodCallEvent, Rule, call_arg, cst, literal_number, literal_value

EXPAND = frozenset({"numpy.expand_dims", "tensorflow.expand_dims", "keras.ops.expand_dims"})
RESHAPE = frozenset({"numpy.reshape", "tensorflow.reshape", "keras.ops.reshape"})
WRAP = frozenset({"numpy.array", "numpy.asarray", "numpy.stack", "numpy.vstack", "numpy.asanyarray",
                  "tensorflow.constant", "tensorflow.convert_to_tensor", "tensorflow.stack",
                  "keras.ops.convert_to_tensor", "keras.ops.stack", "keras.ops.array"})
NEWAXIS = frozenset({"numpy.newaxis", "tensorflow.newaxis"})
KEEP_SHAPE = frozenset({"keras.applications.preprocess_input", "numpy.float32", "numpy.asarray"})
MIN_TRIPS = 10  # a loop the code bounds to at most this many iterations wastes well under a second
MAX_HOPS = 4

RULE = Rule(
    "KC014", "predict-in-loop",
    "`{call}` runs once per loop iteration on a one-sample batch: every `predict()` call pays a fixed set-up cost "
    "(measured 183x the per-sample cost of one batched call); predict all samples in one call, or use "
    "`{model}.predict_on_batch(x)` / `{model}(x, training=False)` in the loop",
    severity="info",
    default=False,
    needs=((b".predict(",),),
    anchors=(".predict",),
)

VALID = [
    # The whole array, once per epoch.
    "import keras\nmodel = keras.models.load_model('m.keras')\nfor epoch in range(n):\n"
    "    preds = model.predict(x_val)\n",
    # A plain x[i]: it may be a whole batch.
    "import keras\nmodel = keras.models.load_model('m.keras')\nfor i in range(n):\n    model.predict(batches[i])\n",
    # Not a Keras model.
    "from sklearn.svm import SVC\nclf = SVC()\nfor i in range(n):\n    clf.predict(x[i:i + 1])\n",
    # Three samples shown in a tutorial.
    "import keras\nmodel = keras.models.load_model('m.keras')\nfor i in range(3):\n"
    "    print(model.predict(x[i:i + 1]))\n",
]
INVALID = [
    "import keras\nmodel = keras.models.load_model('m.keras')\nfor i in range(len(x)):\n"
    "    p = model.predict(x[i:i + 1])  # expect: KC014\n",
    "import numpy as np\nfrom tensorflow import keras\nmodel = keras.applications.MobileNetV2()\n"
    "for path in paths:\n    img = load(path)\n    img = np.expand_dims(img, axis=0)\n"
    "    label = model.predict(img, verbose=0)  # expect: KC014\n",
]


def _code(ctx: Context, node: cst.CSTNode) -> str:
    return " ".join(ctx.code(node).split())


def _one(expr: cst.BaseExpression | None) -> bool:
    return literal_value(expr) == 1 and not isinstance(literal_value(expr), bool)


def _one_first(expr: cst.BaseExpression | None) -> bool:
    """A shape whose first entry is 1: `(1, 28, 28)`, `[1, -1]`."""
    return isinstance(expr, (cst.Tuple, cst.List)) and bool(expr.elements) \
        and not isinstance(expr.elements[0], cst.StarredElement) and _one(expr.elements[0].value)


def _canon(ctx: Context, func: cst.BaseExpression) -> str | None:
    canon = ctx.resolve(func, func) if isinstance(func, (cst.Name, cst.Attribute)) else None
    return canon.name if canon is not None else None


def _single(ctx: Context, expr: cst.BaseExpression, varying: frozenset[str], hops: int = 0) -> bool:
    """Is `expr` a one-sample batch built from a name that changes per iteration?"""
    if hops > MAX_HOPS:
        return False
    if isinstance(expr, cst.Name):
        found = ctx.definition(expr)
        return isinstance(found, cst.BaseExpression) and _single(ctx, found, varying, hops + 1)

    def varies(node: cst.CSTNode) -> bool:
        return bool(ctx.reads(node) & varying)

    if isinstance(expr, cst.Subscript) and expr.slice:
        first = expr.slice[0].slice
        if isinstance(first, cst.Slice) and first.lower is not None and first.step is None:
            upper = first.upper
            if isinstance(upper, cst.BinaryOperation) and isinstance(upper.operator, cst.Add):
                low = _code(ctx, first.lower)
                plus_one = (_one(upper.right) and _code(ctx, upper.left) == low) or (
                    _one(upper.left) and _code(ctx, upper.right) == low)
                return plus_one and varies(first.lower)
            return False
        if isinstance(first, cst.Index):
            index = first.value
            if isinstance(index, cst.Name) and index.value == "None" or (
                    isinstance(index, cst.Attribute) and _canon(ctx, index) in NEWAXIS):
                return varies(expr.value)
            if isinstance(index, cst.List) and len(index.elements) == 1 and len(expr.slice) == 1:
                return varies(index.elements[0].value)  # x[[i]]
        return False
    if isinstance(expr, cst.Call) and not any(a.star for a in expr.args):
        func = expr.func
        name = _canon(ctx, func)
        first = call_arg(expr, "", 0)
        if name in EXPAND:
            axis = call_arg(expr, "axis", 1)
            return first is not None and _zero(axis) and varies(first)
        if name in RESHAPE:
            shape = call_arg(expr, "newshape", 1) or call_arg(expr, "shape", 1)
            return first is not None and _one_first(shape) and varies(first)
        if name in WRAP and isinstance(first, cst.List):
            return len(first.elements) == 1 and not isinstance(first.elements[0], cst.StarredElement) \
                and varies(first.elements[0].value)
        if name is None and isinstance(func, cst.Attribute) and func.attr.value == "reshape":
            positional = [a.value for a in expr.args if a.keyword is None]
            ok = (len(positional) > 1 and _one(positional[0])) or (len(positional) == 1 and _one_first(positional[0]))
            return ok and varies(func.value)
        # What keeps the batch as it is: `preprocess_input(x)`, `x.astype("float32")`.
        if name in KEEP_SHAPE and first is not None:
            return _single(ctx, first, varying, hops + 1)
        if name is None and isinstance(func, cst.Attribute) and func.attr.value == "astype":
            return _single(ctx, func.value, varying, hops + 1)
    if isinstance(expr, cst.BinaryOperation):  # `x / 255.0`
        if literal_number(expr.right) is not None:
            return _single(ctx, expr.left, varying, hops + 1)
        if literal_number(expr.left) is not None:
            return _single(ctx, expr.right, varying, hops + 1)
    return False


def _zero(expr: cst.BaseExpression | None) -> bool:
    value = literal_number(expr)
    return value == 0


def _is_model(event: MethodCallEvent) -> bool:
    receiver = event.receiver
    if receiver.kind == "self":
        return receiver.cls is not None and receiver.cls.kind == "model"
    return receiver.is_model()


def _loops_bound(ctx: Context, loops: list[cst.CSTNode]) -> bool:
    """Do the loops together run at most MIN_TRIPS times, as the code spells out?"""
    total = 1
    for loop in loops:
        trips = ctx.max_trips(loop)
        if trips is None:
            return False
        total *= trips
    return total <= MIN_TRIPS


def check(ctx: Context) -> Iterator[Hit]:
    events: dict[int, list[MethodCallEvent]] = {}
    for event in ctx.picture.methods:
        if event.name == "predict":
            events.setdefault(id(event.node), []).append(event)
    for group in events.values():
        call = group[0].node
        if not any(_is_model(e) for e in group):
            continue
        loops = ctx.loops(call)
        if not loops or _loops_bound(ctx, loops):
            continue
        x = call_arg(call, "x", 0)
        if x is None:
            continue
        varying = frozenset().union(*(ctx.loop_names(loop) for loop in loops))
        if not varying or not _single(ctx, x, varying):
            continue
        model = _code(ctx, call.func.value) if isinstance(call.func, cst.Attribute) else "model"
        yield Hit(call, fmt={"call": f"{model}.predict({_code(ctx, x)})", "model": model},
                  data={"events": tuple(group), "x": x, "loops": tuple(loops)})
