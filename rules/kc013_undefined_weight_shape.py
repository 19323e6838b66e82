"""A weight shape with an unknown (None) or batch-sized dimension.

## What it does
Flags, in the `shape` of `self.add_weight(...)` / `self.add_variable(...)` in a
Keras layer or model class, or of `keras.Variable(...)`:

- a literal `None` (also through a name bound once to the tuple), and
- in `build(self, input_shape)`, the batch dimension `input_shape[0]`
  (also `input_shape.as_list()[0]`, `int(input_shape[0])`, a name assigned from
  it, and `input_shape` converted by `tf.TensorShape(...)`/`list(...)` first).

Not flagged: `input_shape[-1]`, `input_shape[1]`, `input_shape[1:]`, an
`input_shape` that `build()` reassigns to something else first, a layer whose
inputs are a list (`input_shape[0][-1]` is the first input's feature axis),
shapes computed elsewhere (an attribute, a helper's result, a parameter),
`tf.Variable` (which may be shape-less on purpose, with `validate_shape=False`),
and `add_weight` with a custom `getter=`.

## Why is this bad?
A weight needs a fully known shape. Measured with Keras 3.15 (KERAS_FACTS_2
N4): `add_weight(shape=(None, 4))` raises `ValueError: Shapes used to initialize
variables must be fully-defined (no None dimensions)` when it runs (in
`__init__` at construction, in `build()` at the first call); `keras.Variable`
the same; tf_keras 2.21 raises `Attempt to convert a value (None) with an
unsupported type`. The batch dimension is the quiet variant:
`add_weight(shape=(input_shape[0], input_shape[-1]))` works when the layer is
first called eagerly on a fixed batch (the weight is (2, 4) for a batch of 2)
and raises the same error as soon as it is built symbolically, in a functional
or `Sequential` model where the batch size is None. Where it does build, the
weight is tied to one batch size, and a different last batch breaks it.

## Example
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[0], input_shape[-1]))

## Use instead
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],))

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` executes the flagged code as the model would run it: for a weight
made in a layer class, it instantiates the class as the file does (else with no
arguments) and builds it symbolically, applying it to `Input(shape)` of the Keras
library the class derives from, for the shape the code gives, else (8,), (6, 4),
(4, 4, 3), or two inputs of (8,); for `keras.Variable`, it evaluates the call.
Other `add_weight` calls of the class that fail the same way get 2 in place of
the unknown dimension, so that `build()` reaches the flagged call. `confirmed`
when the flagged line raises the error of an unknown dimension (Keras 3: "must
be fully-defined"; tf_keras: "convert a value (None)" or `int()` of None), with
the message as evidence, and for the batch dimension whether the layer builds
when called eagerly on a batch of 2 (it does: N4.2); `not reproduced` when the
layer builds with fully known weight shapes; `could not build` when something
else fails first, e.g. another flagged line of the same `build()`.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import Context, Hit, Rule, call_arg, cst, literal_string

METHODS = frozenset({"add_weight", "add_variable"})
VARIABLES = frozenset({"keras.Variable"})
# Calls that hand on a shape dimension or a whole shape unchanged.
_DIM_WRAPPERS = frozenset({"int", "dimension_value"})
_SHAPE_WRAPPERS = frozenset({"TensorShape", "list", "tuple"})
MAX_HOPS = 6

RULE = Rule(
    "KC013", "undefined-weight-shape",
    "`None` in the shape of {what}: a weight's shape must be fully known, so creating it raises "
    "`ValueError: Shapes used to initialize variables must be fully-defined`; give the size "
    "(in `build()`, e.g. `input_shape[-1]`)",
    severity="error",
    # A `None` written in a tuple or list, or the batch dimension (`input_shape[0]`) and a build().
    needs=tuple(group for call in (b"add_weight", b"add_variable", b"Variable(")
                for group in ((call, b"(None"), (call, b"[None"), (call, b"shape[0]", b"def build("),
                              (call, b"as_list()[0]", b"def build("))),
    anchors=(".add_weight", ".add_variable", *VARIABLES),
    ties=False,  # reads the add_weight calls of a build() and the names in it, nothing around them
)
BATCH = ("`{code}` is the batch dimension in the shape of {what}: it is None when the layer is built "
         "symbolically (a functional or Sequential model), where creating the weight raises, and with a fixed "
         "batch it ties the weight to that batch size; use a feature axis such as `input_shape[-1]`")

VALID = [
    "import keras\nclass Scale(keras.layers.Layer):\n    def build(self, input_shape):\n"
    "        self.w = self.add_weight(shape=(input_shape[-1],))\n",
    "import keras\nclass Pos(keras.layers.Layer):\n    def build(self, input_shape):\n"
    "        self.w = self.add_weight(shape=input_shape[1:])\n",
    # A list of inputs: input_shape[0] is the first input's shape.
    "import keras\nclass Bilinear(keras.layers.Layer):\n    def build(self, input_shape):\n"
    "        self.w = self.add_weight(shape=(input_shape[0][-1], input_shape[1][-1]))\n",
    "import tensorflow as tf\nv = tf.Variable(tf.zeros((0, 4)), shape=(None, 4), validate_shape=False)\n",
]
INVALID = [
    "import keras\nclass Scale(keras.layers.Layer):\n    def build(self, input_shape):\n"
    "        self.w = self.add_weight(shape=(input_shape[0], input_shape[-1]))  # expect: KC013\n",
    "import tensorflow as tf\nclass Memory(tf.keras.layers.Layer):\n    def __init__(self):\n"
    "        super().__init__()\n        self.m = self.add_weight(shape=(None, 16), trainable=False)  # expect: KC013\n",
    "import keras\nv = keras.Variable(initializer='zeros', shape=(None, 4))  # expect: KC013\n",
]


def _name(ctx: Context, expr: cst.BaseExpression, hops: int = 0) -> cst.BaseExpression:
    """Follow a name to the one expression it is bound to (a few hops)."""
    while isinstance(expr, cst.Name) and hops < MAX_HOPS:
        found = ctx.definition(expr)
        if not isinstance(found, cst.BaseExpression):
            break
        expr, hops = found, hops + 1
    return expr


def _shape(call: cst.Call, method: bool) -> cst.BaseExpression | None:
    if not method:
        return call_arg(call, "shape", 1)  # keras.Variable(initializer, shape, ...)
    shape = call_arg(call, "shape", None)
    if shape is not None:
        return shape
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    if positional and isinstance(positional[0], (cst.Tuple, cst.List)):
        return positional[0]  # Keras 3: add_weight(shape, initializer, dtype)
    if len(positional) > 1 and literal_string(positional[0]) is not None:
        return positional[1]  # tf_keras: add_weight(name, shape, ...)
    return None


def _build_param(ctx: Context, call: cst.Call) -> tuple[cst.FunctionDef, str] | None:
    """`(build, its shape parameter's name)` when `call` is in the `build()` of a Keras class."""
    fn = ctx.enclosing_function(call)
    if fn is None or fn.name.value != "build":
        return None
    cls = ctx.parent(ctx.parent(fn))
    kc = ctx.picture.class_of(cls) if isinstance(cls, cst.ClassDef) else None
    params = fn.params.params
    if kc is None or kc.kind not in ("layer", "model") or len(params) < 2:
        return None
    return fn, params[1].name.value


def _is_shape_param(ctx: Context, expr: cst.BaseExpression, fn: cst.FunctionDef, param: str, hops: int = 0) -> bool:
    """Is `expr` build()'s input shape, unchanged (`input_shape`, `tf.TensorShape(input_shape)`)?"""
    if hops > MAX_HOPS:
        return False
    if isinstance(expr, cst.Name):
        found = ctx.definition(expr)
        if isinstance(found, cst.BaseExpression):
            return _is_shape_param(ctx, found, fn, param, hops + 1)
        got = ctx.parameter(expr) if expr.value == param else None
        return got is not None and got is fn.params.params[1]  # the parameter, never rebound
    if isinstance(expr, cst.Call) and len(expr.args) == 1 and not expr.args[0].keyword and not expr.args[0].star:
        func = expr.func
        short = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else ""
        if short in _SHAPE_WRAPPERS:
            return _is_shape_param(ctx, expr.args[0].value, fn, param, hops + 1)
    if isinstance(expr, cst.Call) and not expr.args and isinstance(expr.func, cst.Attribute) \
            and expr.func.attr.value == "as_list":
        return _is_shape_param(ctx, expr.func.value, fn, param, hops + 1)
    return False


def _is_batch(ctx: Context, expr: cst.BaseExpression, fn: cst.FunctionDef, param: str, hops: int = 0) -> bool:
    """Is `expr` the batch dimension of build()'s input shape (`input_shape[0]`)?"""
    if hops > MAX_HOPS:
        return False
    expr = _name(ctx, expr)
    if isinstance(expr, cst.Subscript) and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index):
        index = expr.slice[0].slice.value
        return isinstance(index, cst.Integer) and index.value == "0" and _is_shape_param(ctx, expr.value, fn, param)
    if isinstance(expr, cst.Call) and len(expr.args) == 1 and not expr.args[0].keyword and not expr.args[0].star:
        func = expr.func
        short = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else ""
        if short in _DIM_WRAPPERS:
            return _is_batch(ctx, expr.args[0].value, fn, param, hops + 1)
    return False


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def _what(call: cst.Call, method: bool) -> str:
    name = literal_string(call_arg(call, "name", None))
    if name is None and method:
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        name = literal_string(positional[0]) if positional else None
    if name:
        return f"weight {name!r}"
    return "the weight" if method else "the variable"


def _hits(ctx: Context, call: cst.Call, method: bool, seen: set[int]) -> Iterator[Hit]:
    shape = _shape(call, method)
    if shape is None or (method and call_arg(call, "getter", None) is not None):
        return
    shape = _name(ctx, shape)
    if not isinstance(shape, (cst.Tuple, cst.List)):
        return
    build = _build_param(ctx, call)
    what = _what(call, method)
    for element in shape.elements:
        if isinstance(element, cst.StarredElement) or id(element.value) in seen:
            continue
        value = element.value
        data = {"call": call, "what": what}
        if _is_none(value) or _is_none(_name(ctx, value)):
            seen.add(id(value))
            yield Hit(value, fmt={"what": what}, data={**data, "kind": "none"})
        elif build is not None and _is_batch(ctx, value, *build):
            seen.add(id(value))
            yield Hit(value, fmt={"what": what, "code": ctx.code(value).strip()}, message=BATCH,
                      data={**data, "kind": "batch"})


def check(ctx: Context) -> Iterator[Hit]:
    seen: set[int] = set()
    for event in ctx.picture.methods:
        cls = event.site.cls
        if event.name in METHODS and event.receiver.kind == "self" and cls is not None \
                and cls.kind in ("layer", "model"):
            yield from _hits(ctx, event.node, True, seen)
    for event in ctx.picture.calls:
        if event.canon.name in VARIABLES and event.canon.flavor is not None:
            yield from _hits(ctx, event.node, False, seen)
