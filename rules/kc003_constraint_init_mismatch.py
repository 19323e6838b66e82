"""Element-wise weight constraint that the weight's own initial values break.

## What it does
Flags a `*_constraint` argument of a built-in Keras layer, or the
`constraint=` of `self.add_weight(...)` in a custom layer, whose constraint
is an element-wise bound that the weight's initializer does not respect:
`NonNeg` (`"non_neg"`, `"NonNeg"`, `keras.constraints.non_neg()`), or a
`Constraint` subclass defined in the same file whose `__call__` is a plain
pointwise projection (`abs`, `clip` with literal bounds, `maximum` /
`minimum` with a literal, `relu`, `w * (w >= 0)` masks). The initializer is
the one the weight really gets: the explicit argument (string, initializer
object with literal arguments, or a variable assigned once from one), else
that layer's default for that weight (kernel, depthwise and pointwise:
`glorot_uniform`; recurrent: `orthogonal`; embeddings: `uniform`; bias,
beta, PReLU alpha: zeros, plus ones for the LSTM forget gate; gamma: ones;
`add_weight`: `glorot_uniform`). Bounds are compared, not just signs:
`clip(0.1, 1)` rejects zeros and ones sits inside `clip(0, 1)`.

The constraint is also found where it reaches the layer indirectly: through a
`**kwargs` dict, also one chosen between branches
(`c = {"kernel_constraint": NonNeg()} if convex else {}` ... `Dense(n, **c)`),
or through a parameter (`def make(n, constraint=NonNeg()): return Dense(n,
kernel_constraint=constraint)`: its default when no call in the file gives
it, else what some call gives it).

Not flagged: weights that never compute with their initial values - the layer
is bound to a name and, before anything calls it, trains it or hands it on,
`set_weights(...)` or `layer.kernel.assign(...)` (the constrained weight)
replaces them, or it is only built and inspected (`assertIsInstance(
layer.kernel.constraint, NonNeg)`, `get_config()`, as in Keras's own tests);
an `add_weight` whose variable is `.assign`ed in the same method right after.
A test that trains and then checks the values is still flagged. Also: norm
constraints (`MaxNorm`, `MinMaxNorm`, `UnitNorm`), which
rescale whole columns and never zero an entry; NonNeg on zeros, ones,
`Constant(c >= 0)`, `RandomUniform(minval >= 0)` or `Identity`; anything not
provable (a parameter, a call that cannot be evaluated, a constraint whose
body is not a recognisable pointwise bound).

## Why is this bad?
Keras applies a constraint only inside `optimizer.apply()`, right after a
gradient update. Until the first step the layer computes with weights that
break it (measured with Keras 3.15 and tf_keras 2.21: `Dense(16,
kernel_constraint=NonNeg())` has 52.5 % negative kernel entries after build,
predict and evaluate); frozen layers (`trainable=False`), weights that get
no gradient and weights set by `set_weights`/`load_weights` are never
projected at all. The first trained step then projects them:
52 % of the kernel becomes exactly 0 (54 % with SGD), a lost start that
slows training (MSE 17.3 vs 14.4 after 20 steps against a non-negative
initializer on a non-negative regression). Nothing raises and nothing turns
NaN, so the mismatch goes unnoticed.

## Example
    layer = keras.layers.Dense(16, kernel_constraint=keras.constraints.NonNeg())

## Use instead
    layer = keras.layers.Dense(
        16,
        kernel_initializer=keras.initializers.RandomUniform(0.0, 0.1),
        kernel_constraint=keras.constraints.NonNeg(),
    )

## Confirm mode
`--confirm` builds the flagged layer alone from its own source (for `add_weight`, the custom
layer class as the file instantiates it, else with no arguments, so its `__init__` and `build()`
run; the variable is picked out by the call's line), after the slice of imports, definitions and
constants it uses (README, Confirm mode; never other module-level code), on the input shape the code gives it (`input_shape=`, `batch_input_shape=`,
`input_dim=`, or its producers back to their `Input(...)`, rebuilt symbolically), else on a small
default: (None, 8) for Dense,
normalization, PReLU and custom layers, (None, 16, 3) / (None, 8, 8, 3) / (None, 8, 8, 8, 3) for
1D/2D/3D convolutions, (None, 5, 4) for SimpleRNN/LSTM/GRU, (None, 5) for Embedding (its table
comes from its own arguments). Then it applies the constraint object the weight holds to the
initial value, as the optimizer does after its first step, and counts the entries that change
(|c(w) - w| > 1e-6 + 1e-6 |w|), seed 0. `confirmed` when more than 0.5 % change: measured 15.6 %
(RandomUniform(-0.1, 0.4)) to 100 % (Constant(2) under clip(0, 1)) on the positive fixtures,
about 50 % for every zero-mean initializer, 25 % for the LSTM forget-gate bias under clip(-0.5,
0.5); 0.0 % on all 40 clean look-alikes (NonNeg with zeros, ones, Constant(0.5),
RandomUniform(0, 0.1), Identity, TruncatedNormal(1, 0.1), default bias/gamma/beta/alpha;
clips around their initializer; MaxNorm(>= 2) on glorot_uniform). A weight with fewer than 64
entries (a 1x1 kernel) is initialised again with seeds 1, 2, ... until 64 entries are drawn: one
draw says nothing. Keras 2 code is built with Keras 2 (tf_keras): tf_keras layers, a constraint
on standalone `keras.backend.clip` (gone in Keras 3; the file's `import keras` meant Keras 2), and
`add_weight("name", ...)` with the name by position. A constraint that raises when applied is
`could not build`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from kerascheck.rule import Context, Hit, KerasClass, LayerDef, Rule, call_arg, cst, literal_number, literal_string

# A constraint reaches a weight through a `*_constraint` or `constraint=` keyword; the
# bounds come from NonNeg or a `class ...(...Constraint):` with a `__call__`.
_USE = (b"_constraint", b"constraint=")
_BOUNDS = ((b"NonNeg",), (b"non_neg",), (b"'nonneg'",), (b'"nonneg"',), (b"nonneg(",), (b"Constraint)", b"__call__"))

RULE = Rule(
    "KC003", "constraint-init-mismatch",
    "{constraint} bounds {weight} to {allowed}, but its initializer {init} produces {values}: until the "
    "first optimizer step (forever if the layer is frozen or its weights are loaded) the layer computes with "
    "weights that break the constraint, and the first step {effect}",
    severity="warning",
    needs=tuple((use, *words) for use in _USE for words in _BOUNDS),
    # Every construction the rule reads carries a `*_constraint` keyword; `__call__` keeps the
    # body of a constraint class (a constraint class's methods are structural).
    anchors=("=onstraint", "=__call__"),
)

INF = math.inf
# Shape-dependent zero-mean initializers (glorot/he/lecun, VarianceScaling,
# Orthogonal) reach past this magnitude in any layer with fan_in <= 30,000: the
# smallest limit is lecun_uniform's sqrt(3 / fan_in); glorot_uniform's is
# sqrt(6 / (fan_in + fan_out)), 0.054 for a 4x4x64 -> 64 Conv2D.
MIN_SCALE = 0.01


@dataclass(frozen=True)
class Init:
    """The values an initializer produces: [lo, hi]. `exact`: never beyond the
    bounds (uniform, constants, truncated normal); otherwise the bounds are a
    range the values are sure to reach (and usually exceed)."""

    label: str
    lo: float
    hi: float
    exact: bool = True
    zero_mean: bool = False


@dataclass(frozen=True)
class Bound:
    """An element-wise constraint: values in [lo, hi] are left unchanged, others
    are moved (`kind` "proj": to the nearest bound; "abs": sign-flipped)."""

    label: str
    lo: float
    hi: float
    kind: str = "proj"
    source: KerasClass | None = None  # a custom constraint class (in this file or an imported one)


NON_NEG_NAMES = frozenset({"keras.constraints.NonNeg", "keras.constraints.non_neg"})
NON_NEG = (0.0, INF)

# Layer -> {constraint keyword: (initializer keyword, default, last safe positional count,
# the keyword that switches the weight off)}. Defaults checked against keras 3.15.1 and
# tf_keras 2.21 signatures; the positional count is the initializer's index in the
# smaller of the two.
_KERNEL = ("kernel_initializer", "glorot_uniform")
_BIAS = ("bias_initializer", "zeros")


def _conv(pos: int) -> dict:
    return {"kernel_constraint": (*_KERNEL, pos, None), "bias_constraint": (*_BIAS, pos + 1, "use_bias")}


def _rnn(pos: int) -> dict:
    return {"kernel_constraint": (*_KERNEL, pos, None),
            "recurrent_constraint": ("recurrent_initializer", "orthogonal", pos + 1, None),
            "bias_constraint": (*_BIAS, pos + 2, "use_bias")}


def _norm(pos: int) -> dict:
    return {"beta_constraint": ("beta_initializer", "zeros", pos, "center"),
            "gamma_constraint": ("gamma_initializer", "ones", pos + 1, "scale")}


_SEPARABLE = {"depthwise_constraint": ("depthwise_initializer", "glorot_uniform", 9, None),
              "pointwise_constraint": ("pointwise_initializer", "glorot_uniform", 10, None),
              "bias_constraint": (*_BIAS, 11, "use_bias")}
_DEPTHWISE = {"depthwise_constraint": ("depthwise_initializer", "glorot_uniform", 8, None),
              "bias_constraint": (*_BIAS, 9, "use_bias")}
WEIGHTS: dict[str, dict[str, tuple]] = {
    **{f"keras.layers.{n}": _conv(9) for n in (
        "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
        "Convolution1D", "Convolution2D", "Convolution3D", "Convolution1DTranspose",
        "Convolution2DTranspose", "Convolution3DTranspose")},
    **{f"keras.layers.{n}": _SEPARABLE for n in (
        "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D", "SeparableConvolution2D")},
    "keras.layers.DepthwiseConv1D": _DEPTHWISE,
    "keras.layers.DepthwiseConv2D": _DEPTHWISE,
    "keras.layers.Dense": _conv(3),
    "keras.layers.EinsumDense": _conv(4),
    "keras.layers.LocallyConnected1D": _conv(7),
    "keras.layers.LocallyConnected2D": _conv(7),
    "keras.layers.MultiHeadAttention": _conv(7),
    "keras.layers.Embedding": {"embeddings_constraint": ("embeddings_initializer", "uniform", 2, None)},
    **{f"keras.layers.{n}": _rnn(3) for n in ("SimpleRNN", "SimpleRNNCell")},
    **{f"keras.layers.{n}": _rnn(4) for n in ("LSTM", "LSTMCell", "GRU", "GRUCell")},
    **{f"keras.layers.{n}": _rnn(9) for n in ("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")},
    "keras.layers.BatchNormalization": _norm(5),
    "keras.layers.GroupNormalization": _norm(5),
    "keras.layers.LayerNormalization": _norm(4),
    "keras.layers.PReLU": {"alpha_constraint": ("alpha_initializer", "zeros", 0, None)},
}
# Layers whose bias gets ones for the forget gate on top of its initializer.
FORGET_GATE = frozenset({"keras.layers.LSTM", "keras.layers.LSTMCell", "keras.layers.ConvLSTM1D",
                         "keras.layers.ConvLSTM2D", "keras.layers.ConvLSTM3D"})

# Initializer names (string identifiers and keras.initializers attributes), both libraries.
_SCALED = frozenset({"glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
                     "lecun_normal", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
                     "LecunUniform", "LecunNormal"})
_ORTHOGONAL = frozenset({"orthogonal", "Orthogonal", "OrthogonalInitializer"})
_VARIANCE = frozenset({"variance_scaling", "VarianceScaling"})
_UNIFORM = frozenset({"uniform", "random_uniform", "RandomUniform"})
_NORMAL = frozenset({"normal", "random_normal", "RandomNormal"})
_TRUNCATED = frozenset({"truncated_normal", "TruncatedNormal"})
_ZEROS = frozenset({"zeros", "zero", "Zeros"})
_ONES = frozenset({"ones", "one", "Ones"})
_CONSTANT = frozenset({"constant", "Constant"})
_IDENTITY = frozenset({"identity", "Identity", "IdentityInitializer"})
# TensorFlow's own initializers: only those whose defaults agree between TF 1 and TF 2.
_TF_INITS = {"tensorflow.zeros_initializer": "zeros", "tensorflow.ones_initializer": "ones",
             "tensorflow.constant_initializer": "constant", "tensorflow.glorot_uniform_initializer": "glorot_uniform",
             "tensorflow.glorot_normal_initializer": "glorot_normal", "tensorflow.orthogonal_initializer": "orthogonal"}

# Functions a constraint's `__call__` may use, by canonical name.
_ABS = frozenset({"tensorflow.abs", "tensorflow.math.abs", "keras.backend.abs", "keras.ops.abs",
                  "keras.ops.absolute"})
_CLIP = {"tensorflow.clip_by_value": ("clip_value_min", "clip_value_max"),
         "keras.backend.clip": ("min_value", "max_value"), "keras.ops.clip": ("x_min", "x_max")}
_MAXIMUM = frozenset({"tensorflow.maximum", "tensorflow.math.maximum", "keras.backend.maximum", "keras.ops.maximum"})
_MINIMUM = frozenset({"tensorflow.minimum", "tensorflow.math.minimum", "keras.backend.minimum", "keras.ops.minimum"})
_RELU = frozenset({"tensorflow.nn.relu", "keras.backend.relu", "keras.activations.relu", "keras.ops.relu"})
_RELU6 = frozenset({"tensorflow.nn.relu6", "keras.activations.relu6", "keras.ops.relu6"})
_COMPARE = {  # name -> the comparison operator it stands for
    **{f"{p}.greater_equal": ">=" for p in ("tensorflow", "tensorflow.math", "keras.backend", "keras.ops")},
    **{f"{p}.greater": ">" for p in ("tensorflow", "tensorflow.math", "keras.backend", "keras.ops")},
    **{f"{p}.less_equal": "<=" for p in ("tensorflow", "tensorflow.math", "keras.backend", "keras.ops")},
    **{f"{p}.less": "<" for p in ("tensorflow", "tensorflow.math", "keras.backend", "keras.ops")},
}
_CAST = frozenset({"tensorflow.cast", "tensorflow.dtypes.cast", "keras.backend.cast", "keras.ops.cast",
                   "tensorflow.to_float", "keras.backend.cast_to_floatx"})
_MULTIPLY = frozenset({"tensorflow.multiply", "tensorflow.math.multiply", "keras.ops.multiply"})
_IDENTITY_FNS = frozenset({"tensorflow.convert_to_tensor", "keras.backend.convert_to_tensor",
                           "keras.ops.convert_to_tensor", "tensorflow.identity"})

VALID = [
    # Bias defaults to zeros: NonNeg changes nothing.
    "import keras\nkeras.layers.Dense(4, bias_constraint=keras.constraints.NonNeg())\n",
    # A non-negative initializer.
    "from tensorflow import keras\n"
    "keras.layers.Dense(4, kernel_initializer=keras.initializers.RandomUniform(0.0, 0.1),\n"
    "                   kernel_constraint='non_neg')\n",
    # Norm constraints never zero an entry.
    "import keras\nkeras.layers.Dense(4, kernel_constraint=keras.constraints.MaxNorm(2))\n",
    # The initializer is a parameter: not provable.
    "import keras\ndef block(init):\n"
    "    return keras.layers.Dense(4, kernel_initializer=init, kernel_constraint=keras.constraints.NonNeg())\n",
    # clip(0.1, 1) keeps ones.
    "import tensorflow as tf\nfrom tensorflow import keras\n"
    "class Unit(keras.constraints.Constraint):\n"
    "    def __call__(self, w):\n"
    "        return tf.clip_by_value(w, 0.1, 1.0)\n"
    "layer = keras.layers.Dense(4, kernel_initializer='ones', kernel_constraint=Unit())\n",
]
INVALID = [
    "import tensorflow as tf\n"
    "layer = tf.keras.layers.Dense(16, kernel_constraint=tf.keras.constraints.NonNeg())  # expect: KC003\n",
    "from keras.constraints import non_neg\nfrom keras import layers\n"
    "emb = layers.Embedding(1000, 8, embeddings_constraint=non_neg())  # expect: KC003\n",
    "from keras import backend as K, layers\nfrom keras.constraints import Constraint\n"
    "class Between(Constraint):\n"
    "    def __call__(self, w):\n"
    "        return K.clip(w, 0.1, 1.0)\n"
    "layer = layers.Dense(4, bias_constraint=Between())  # expect: KC003\n",
]


# ------------------------------------------------------------------ helpers


def _fmt(x: float) -> str:
    if x == INF:
        return "inf"
    if x == -INF:
        return "-inf"
    return f"{x:g}"


def _interval(lo: float, hi: float) -> str:
    left = "(-inf" if lo == -INF else f"[{_fmt(lo)}"
    right = "inf)" if hi == INF else f"{_fmt(hi)}]"
    return f"{left}, {right}"


def _number(expr: cst.BaseExpression | None) -> float | None:
    value = literal_number(expr)
    return value if value is not None and math.isfinite(value) else None


def _has_star(call: cst.Call) -> bool:
    return any(arg.star for arg in call.args)


def _positional_count(call: cst.Call) -> int:
    return sum(1 for arg in call.args if arg.keyword is None and not arg.star)


def _is_false(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"


def _is_true(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


def _code(ctx: Context, node: cst.CSTNode, fallback: str) -> str:
    """The source of a short expression, for messages."""
    text = ctx.code(node)
    return text if len(text) <= 48 and "\n" not in text else fallback


def _local_constraint(ctx: Context, node: cst.BaseExpression) -> KerasClass | None:
    """The file's own Constraint subclass that a name stands for."""
    if not isinstance(node, cst.Name):
        return None
    target = ctx.definition(node)
    kc = ctx.picture.class_of(target) if isinstance(target, cst.ClassDef) else None
    return kc if kc is not None and kc.kind == "constraint" else None


# ------------------------------------------------------------------ constraints and initializers


def constraint(ctx: Context, expr: cst.BaseExpression, flavor: str | None, depth: int = 0) -> Bound | None:
    text = literal_string(expr)
    if text is not None:
        if text in ("non_neg", "NonNeg") or (text == "nonneg" and flavor == "tf_keras"):
            return Bound(repr(text), *NON_NEG)
        return None
    if isinstance(expr, cst.Name) and depth < 4:
        if _local_constraint(ctx, expr) is not None:
            return None  # the class itself, not an instance
        # A name, or a parameter: what some call (or the default) gives it is enough, since
        # that call makes the mismatched layer.
        for value in ctx.values(expr) or ():
            bound = constraint(ctx, value, flavor, depth + 1)
            if bound is not None:
                return bound
        return None
    if not isinstance(expr, cst.Call) or _has_star(expr):
        return None
    kc = _local_constraint(ctx, expr.func)
    if kc is not None:
        bound = _custom(ctx, kc, expr)
        return Bound(_code(ctx, expr, bound.label), bound.lo, bound.hi, bound.kind, kc) if bound else None
    canon = ctx.resolve(expr.func, expr) if isinstance(expr.func, (cst.Name, cst.Attribute)) else None
    if canon is None or canon.flavor is None:
        return None
    if canon.name in NON_NEG_NAMES and not expr.args:
        return Bound(f"{canon.short}()", *NON_NEG)
    return None


def initializer(ctx: Context, expr: cst.BaseExpression, depth: int = 0) -> Init | None:
    text = literal_string(expr)
    if text is not None:
        return _named_init(text, repr(text), None)
    if isinstance(expr, cst.Name) and depth < 4:
        # One initializer, whatever the call: else which one pairs with the constraint is unknown.
        found = [initializer(ctx, value, depth + 1) for value in ctx.values(expr) or ()]
        if found and all(f is not None for f in found) and len({(f.lo, f.hi, f.exact) for f in found}) == 1:
            return found[0]
        return None
    if not isinstance(expr, cst.Call) or _has_star(expr):
        return None
    if not isinstance(expr.func, (cst.Name, cst.Attribute)):
        return None
    canon = ctx.resolve(expr.func, expr)
    if canon is None:
        return None
    label = _code(ctx, expr, f"{canon.short}(...)" if expr.args else f"{canon.short}()")
    if canon.flavor is not None and canon.name.startswith("keras.initializers."):
        return _named_init(canon.short, label, expr)
    if canon.name in _TF_INITS:
        return _named_init(_TF_INITS[canon.name], label, expr, tf_style=True)
    return None


# ------------------------------------------------------------------ initializer values


def _args(call: cst.Call | None, names: tuple[str, ...]) -> list[float | None] | None:
    """Literal values of the given parameters (None: left at its default), or
    None when an argument is not a literal or not one of them (seed aside)."""
    if call is None:
        return [None] * len(names)
    values: list[float | None] = [None] * len(names)
    index = 0
    for arg in call.args:
        if arg.keyword is None:
            if index >= len(names):
                return None
            slot = index
            index += 1
        else:
            key = arg.keyword.value
            if key in ("seed", "dtype"):
                continue
            if key not in names:
                return None
            slot = names.index(key)
        value = _number(arg.value)
        if value is None:
            return None
        values[slot] = value
    return values


def _named_init(name: str, label: str, call: cst.Call | None, tf_style: bool = False) -> Init | None:
    if name in _ZEROS:
        return Init(label, 0.0, 0.0) if call is None or not call.args else None
    if name in _ONES:
        return Init(label, 1.0, 1.0) if call is None or not call.args else None
    if name in _CONSTANT:
        got = _args(call, ("value",))
        if got is None:
            return None
        value = got[0] if got[0] is not None else 0.0
        return Init(label, value, value)
    if name in _SCALED:
        if call is not None and _args(call, ()) is None:
            return None
        return Init(label, -MIN_SCALE, MIN_SCALE, exact=False, zero_mean=True)
    if name in _ORTHOGONAL:
        got = _args(call, ("gain",))
        if got is None:
            return None
        gain = abs(got[0]) if got[0] is not None else 1.0
        if gain == 0:
            return Init(label, 0.0, 0.0)
        return Init(label, -MIN_SCALE * min(gain, 1.0), MIN_SCALE * min(gain, 1.0), exact=False, zero_mean=True)
    if name in _VARIANCE:
        if call is not None and call.args:
            if _args(call, ()) is None and not _only_strings(call):
                return None
            # Scale, mode or distribution changed: only the signs are sure.
            return Init(label, 0.0, 0.0, exact=False, zero_mean=True)
        return Init(label, -MIN_SCALE, MIN_SCALE, exact=False, zero_mean=True)
    if tf_style:
        return None
    if name in _UNIFORM:
        got = _args(call, ("minval", "maxval"))
        if got is None:
            return None
        lo = got[0] if got[0] is not None else -0.05
        hi = got[1] if got[1] is not None else 0.05
        return Init(label, min(lo, hi), max(lo, hi), zero_mean=lo == -hi)
    if name in _NORMAL or name in _TRUNCATED:
        got = _args(call, ("mean", "stddev"))
        if got is None:
            return None
        mean = got[0] if got[0] is not None else 0.0
        std = abs(got[1]) if got[1] is not None else 0.05
        # Truncated at two standard deviations; a plain normal goes past them in any
        # weight of more than a few dozen entries.
        return Init(label, mean - 2 * std, mean + 2 * std, exact=name in _TRUNCATED, zero_mean=mean == 0)
    if name in _IDENTITY:
        got = _args(call, ("gain",))
        if got is None:
            return None
        gain = got[0] if got[0] is not None else 1.0
        return Init(label, min(0.0, gain), max(0.0, gain))
    return None


def _only_strings(call: cst.Call) -> bool:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "seed":
            continue
        if _number(arg.value) is None and literal_string(arg.value) is None:
            return False
    return True


# ------------------------------------------------------------------ custom constraints

# Symbolic values in a constraint body: ("w",), ("proj", lo, hi), ("abs",),
# ("num", x), ("cmp", op, x) (a 0/1 mask of `w op x`).


def _custom(ctx: Context, kc: KerasClass, call: cst.Call) -> Bound | None:
    fn = kc.methods.get("__call__")
    if fn is None or fn.asynchronous is not None:
        return None
    params = fn.params
    if len(params.params) != 2 or params.posonly_params or params.kwonly_params \
            or isinstance(params.star_arg, cst.Param) or params.star_kwarg is not None:
        return None
    self_name, weight = params.params[0].name.value, params.params[1].name.value
    attrs = _init_attrs(ctx, kc, call)
    if attrs is None:
        return None
    env: dict[str, tuple] = {weight: ("w",)}
    statements: list[cst.BaseSmallStatement] = []
    if isinstance(fn.body, cst.SimpleStatementSuite):
        statements.extend(fn.body.body)
    else:
        for stmt in fn.body.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                return None
            statements.extend(stmt.body)
    for i, small in enumerate(statements):
        if isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)) and i == 0:
            continue
        if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
            value = _sym(ctx, small.value, env, attrs, self_name)
            if value is None:
                return None
            env[small.targets[0].target.value] = value
            continue
        if isinstance(small, cst.Return) and small.value is not None and i == len(statements) - 1:
            result = _sym(ctx, small.value, env, attrs, self_name)
            if result is None:
                return None
            label = f"{kc.name}({'...' if call.args else ''})"
            if result[0] == "proj":
                return Bound(label, result[1], result[2])
            if result[0] == "abs":
                return Bound(label, 0.0, INF, "abs")
            return None
        return None
    return None


def _init_attrs(ctx: Context, kc: KerasClass, call: cst.Call) -> dict[str, float] | None:
    """`self.X` numbers set in `__init__` from literals or from the call's literal arguments."""
    fn = kc.methods.get("__init__")
    if fn is None:
        return {} if not call.args else None
    params = fn.params
    if params.posonly_params or not params.params:
        return None
    named = list(params.params[1:])
    values: dict[str, float | None] = {}
    for p in [*named, *params.kwonly_params]:
        values[p.name.value] = _number(p.default) if p.default is not None else None
    index = 0
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is None:
            if index >= len(named):
                return None
            values[named[index].name.value] = _number(arg.value)
            index += 1
        elif arg.keyword.value in values:
            values[arg.keyword.value] = _number(arg.value)
        else:
            return None
    self_name = params.params[0].name.value
    attrs: dict[str, float | None] = {}
    seen: set[str] = set()
    for small in ctx.walk(fn.body, into_scopes=False):
        targets = []
        if isinstance(small, cst.Assign):
            targets = [t.target for t in small.targets]
        elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
            targets = [small.target]
        for t in targets:
            if isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) and t.value.value == self_name:
                attr = t.attr.value
                value = None
                if isinstance(small, cst.Assign) and len(targets) == 1 and attr not in seen:
                    value = _number(small.value)
                    if value is None and isinstance(small.value, cst.Name):
                        value = values.get(small.value.value)
                attrs[attr] = value
                seen.add(attr)
    return {k: v for k, v in attrs.items() if v is not None}


def _num(expr: cst.BaseExpression, attrs: dict[str, float], self_name: str) -> float | None:
    value = _number(expr)
    if value is not None:
        return value
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = _num(expr.expression, attrs, self_name)
        return -inner if inner is not None else None
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == self_name:
        return attrs.get(expr.attr.value)
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "float" \
            and len(expr.args) == 1 and not expr.args[0].keyword:
        return _num(expr.args[0].value, attrs, self_name)
    return None


def _project(inner: tuple, lo: float, hi: float) -> tuple | None:
    """clip(inner, lo, hi) as one symbolic value."""
    if lo > hi:
        return None
    if inner[0] == "w":
        return ("proj", lo, hi)
    if inner[0] == "proj":  # clip of a clip: the intersection, when the two overlap
        new_lo, new_hi = max(lo, inner[1]), min(hi, inner[2])
        return ("proj", new_lo, new_hi) if new_lo <= new_hi else None
    if inner[0] == "abs":  # fixed points of clip(|w|): the interval's non-negative part
        new_lo = max(lo, 0.0)
        return ("proj", new_lo, hi) if new_lo <= hi else None
    return None


_FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}


def _sym(ctx: Context, expr: cst.BaseExpression, env: dict, attrs: dict, self_name: str,
         depth: int = 0) -> tuple | None:
    if depth > 8:
        return None
    rec = lambda e: _sym(ctx, e, env, attrs, self_name, depth + 1)  # noqa: E731
    number = _num(expr, attrs, self_name)
    if number is not None:
        return ("num", number)
    if isinstance(expr, cst.Name):
        return env.get(expr.value)
    if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1:
        op = {cst.GreaterThanEqual: ">=", cst.GreaterThan: ">", cst.LessThanEqual: "<=",
              cst.LessThan: "<"}.get(type(expr.comparisons[0].operator))
        if op is None:
            return None
        return _compare(rec(expr.left), rec(expr.comparisons[0].comparator), op)
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Multiply):
        return _mask(rec(expr.left), rec(expr.right))
    if not isinstance(expr, cst.Call) or _has_star(expr) or not isinstance(expr.func, (cst.Name, cst.Attribute)):
        return None
    canon = ctx.resolve(expr.func, expr)
    if canon is None:
        return None
    name = canon.name
    positional = [a.value for a in expr.args if a.keyword is None]
    keywords = {a.keyword.value: a.value for a in expr.args if a.keyword is not None}
    if name in _IDENTITY_FNS:
        return rec(positional[0]) if len(positional) == 1 and set(keywords) <= {"dtype", "name"} else None
    if name in _ABS or name in _RELU or name in _RELU6:
        if len(positional) != 1 or set(keywords) - {"name"}:
            return None
        inner = rec(positional[0])
        if inner is None:
            return None
        if name in _ABS:
            if inner[0] == "w":
                return ("abs",)
            if inner[0] == "proj" and inner[1] >= 0:
                return inner  # already non-negative
            return None
        return _project(inner, 0.0, 6.0 if name in _RELU6 else INF)
    if name in _CLIP:
        lo_kw, hi_kw = _CLIP[name]
        args = list(positional) + [None] * (3 - len(positional))
        if len(positional) > 3 or set(keywords) - {lo_kw, hi_kw, "name"}:
            return None
        lo_expr = keywords.get(lo_kw, args[1])
        hi_expr = keywords.get(hi_kw, args[2])
        if args[0] is None or lo_expr is None or hi_expr is None:
            return None
        inner, lo, hi = rec(args[0]), _num(lo_expr, attrs, self_name), _num(hi_expr, attrs, self_name)
        if inner is None or lo is None or hi is None:
            return None
        return _project(inner, lo, hi)
    if name in _MAXIMUM or name in _MINIMUM:
        if len(positional) != 2 or set(keywords) - {"name"}:
            return None
        a, b = rec(positional[0]), rec(positional[1])
        if a is None or b is None:
            return None
        if a[0] == "num":
            a, b = b, a
        if b[0] != "num" or a[0] == "num":
            return None
        return _project(a, b[1], INF) if name in _MAXIMUM else _project(a, -INF, b[1])
    if name in _COMPARE:
        if len(positional) != 2 or set(keywords) - {"name"}:
            return None
        return _compare(rec(positional[0]), rec(positional[1]), _COMPARE[name])
    if name in _CAST:
        if not positional or len(positional) > 2:
            return None
        inner = rec(positional[0])
        return inner if inner is not None and inner[0] == "cmp" else None
    if name in _MULTIPLY:
        if len(positional) != 2 or set(keywords) - {"name"}:
            return None
        return _mask(rec(positional[0]), rec(positional[1]))
    return None


def _compare(left: tuple | None, right: tuple | None, op: str) -> tuple | None:
    if left is None or right is None:
        return None
    if left[0] == "num" and right == ("w",):
        left, right, op = right, left, _FLIP[op]
    if left == ("w",) and right[0] == "num":
        return ("cmp", op, right[1])
    return None


def _mask(a: tuple | None, b: tuple | None) -> tuple | None:
    """`w * (w >= 0)`: keeps one side of 0 and zeroes the rest, a projection."""
    if a is None or b is None:
        return None
    if a[0] == "cmp":
        a, b = b, a
    if a != ("w",) or b[0] != "cmp" or b[2] != 0:
        return None  # with another threshold 0 is kept too: not an interval
    return ("proj", 0.0, INF) if b[1] in (">=", ">") else ("proj", -INF, 0.0)


# ------------------------------------------------------------------ the check


def _breaks(init: Init, bound: Bound) -> bool:
    if init.exact:
        return init.lo < bound.lo or init.hi > bound.hi
    if init.zero_mean:  # values of both signs that surely reach past lo and hi
        return bound.lo >= init.lo or bound.hi <= init.hi
    return bound.lo > init.lo or bound.hi < init.hi


def _effect(init: Init, bound: Bound) -> str:
    if bound.kind == "abs":
        return "flips the sign of about half of them" if init.zero_mean else "flips the sign of the negative ones"
    if init.zero_mean and ((bound.lo == 0 and init.hi <= bound.hi) or (bound.hi == 0 and init.lo >= bound.lo)):
        return "sets about half of them to exactly 0"
    return "moves every value outside that interval to its nearest bound"


def _values(init: Init, bound: Bound) -> str:
    if not init.exact:
        sign_only = bound.lo >= 0 or bound.hi <= 0
        if init.zero_mean:
            if sign_only or init.hi == 0:
                return "values of both signs"
            return f"values of both signs past \u00b1{_fmt(init.hi)}"
        return f"values beyond {_interval(init.lo, init.hi)}"
    if init.lo == init.hi:
        return f"{_fmt(init.lo)} everywhere"
    return f"values in {_interval(init.lo, init.hi)}"


WEIGHT_NAMES = {"kernel": "the kernel", "recurrent": "the recurrent kernel", "embeddings": "the embeddings",
                "bias": "the bias", "gamma": "gamma", "beta": "beta", "alpha": "alpha",
                "depthwise": "the depthwise kernel", "pointwise": "the pointwise kernel"}


def _hit(arg: cst.CSTNode, bound: Bound, init: Init, weight: str, data: dict | None = None) -> Hit:
    related = {"constraint": (bound.source.node.name, f"class {bound.source.name}")} if bound.source else {}
    return Hit(arg, fmt={"constraint": bound.label, "allowed": _interval(bound.lo, bound.hi), "weight": weight,
                         "init": init.label, "values": _values(init, bound), "effect": _effect(init, bound)},
               related=related, data=data or {})


def _layer_pairs(ctx: Context) -> Iterator[tuple[LayerDef, str, cst.BaseExpression, Bound, Init]]:
    """Every (layer, constraint keyword, argument, bound, initializer) the rule can read."""
    for layer in ctx.picture.layers:
        table = WEIGHTS.get(layer.name)
        if table is None or layer.canon.flavor is None or layer.opaque:
            continue
        if layer.given("weights") is not False:
            continue  # initial values given outright (Keras 2 and Embedding): the initializer is not used
        for keyword, (init_kw, default, position, switch) in table.items():
            arg = layer.arg(keyword)
            if arg is None:
                continue
            if switch is not None:
                gate = layer.arg(switch)
                if gate is not None and not _is_true(gate):
                    continue  # the weight may not exist
            bound = constraint(ctx, arg, layer.canon.flavor)
            if bound is None:
                continue
            given = layer.arg(init_kw)
            if given is not None:
                init = initializer(ctx, given)
            elif _positional_count(layer.node) > position:
                continue  # the initializer may be passed by position
            else:
                init = _named_init(default, f"{default} (the default)", None)
            if init is None:
                continue
            if keyword == "bias_constraint" and layer.name in FORGET_GATE:
                forget = layer.arg("unit_forget_bias")
                if forget is None or _is_true(forget):
                    if not init.exact:
                        continue
                    init = Init(f"{init.label} with ones for the forget gate", min(init.lo, 1.0), max(init.hi, 1.0))
                elif not _is_false(forget):
                    continue
            yield layer, keyword, arg, bound, init


# The attribute that holds the weight a `*_constraint` keyword constrains.
_WEIGHT_ATTRS = {"recurrent": "recurrent_kernel", "depthwise": "depthwise_kernel", "pointwise": "pointwise_kernel"}
# Methods that neither compute with a layer's weights nor hand the layer on.
_INSPECT_METHODS = frozenset({"build", "get_config", "count_params", "compute_output_shape", "compute_output_spec"})
# Attributes whose reading says nothing about the weights' values.
_INSPECT_ATTRS = frozenset({"constraint", "shape", "dtype", "name", "trainable", "built", "path", "initializer",
                            "regularizer"})


def never_initial(ctx: Context, layer: LayerDef, keyword: str) -> bool:
    """The constrained weight never computes with its initial values: every use of the layer is
    building it, inspecting its configuration or constraint (`assertIsInstance(layer.kernel.constraint,
    ...)`, as Keras's own tests do), until `set_weights(...)` or `layer.kernel.assign(...)` replaces
    the values; nothing calls it or hands it on before that."""
    uses = ctx.object_uses(layer.node)
    if not uses:
        return False  # not bound to a name, or never used: as written, the layer is what it is
    attr = keyword[: -len("_constraint")]
    attr = _WEIGHT_ATTRS.get(attr, attr)
    for use in uses:
        path = use.path
        if use.kind == "method" and (path == ("set_weights",) or path == (attr, "assign")):
            return True  # overwritten before anything computed with it
        if use.kind == "method" and len(path) == 1 and path[0] in _INSPECT_METHODS:
            continue
        if use.kind == "attribute" and (path[-1] in _INSPECT_ATTRS or path[-1].endswith(("_constraint", "_initializer"))):
            continue
        return False  # called, trained, handed on, or its weights read
    return True


def _overwritten(ctx: Context, call: cst.Call) -> bool:
    """`self.w = self.add_weight(...)` followed, in the same method, by `self.w.assign(...)`."""
    fn = ctx.enclosing_function(call)
    return any(event.name == "assign" and event.receiver.kind == "weight" and event.receiver.node is call
               and ctx.enclosing_function(event.node) is fn for event in ctx.picture.methods)


def _layer_hits(ctx: Context) -> Iterator[Hit]:
    for layer, keyword, arg, bound, init in _layer_pairs(ctx):
        if _breaks(init, bound) and not never_initial(ctx, layer, keyword):
            base = keyword[: -len("_constraint")]
            parent = ctx.parent(arg)  # the `kernel_constraint=...` argument, or a `**dict`'s value
            yield _hit(parent if isinstance(parent, cst.Arg) else arg, bound, init,
                       f"{WEIGHT_NAMES.get(base, base)} of {layer.short}", {"layer": layer, "keyword": keyword})


_FLOAT_DTYPES = frozenset({"float16", "float32", "float64", "bfloat16"})


def _is_float_dtype(ctx: Context, dtype: cst.BaseExpression) -> bool:
    text = literal_string(dtype)
    if text is not None:
        return text in _FLOAT_DTYPES
    if isinstance(dtype, (cst.Name, cst.Attribute)):
        canon = ctx.resolve(dtype, dtype)
        if canon is not None:
            root, _, short = canon.name.rpartition(".")
            return root in ("tensorflow", "numpy") and short in _FLOAT_DTYPES
    return False


def _weight_pairs(ctx: Context) -> Iterator[tuple[KerasClass, cst.Call, cst.Arg, Bound, Init]]:
    """Every (class, add_weight call, constraint argument, bound, initializer) the rule can read."""
    seen: set[int] = set()
    for event in ctx.picture.methods:
        call = event.node
        kc = event.site.cls
        if event.name != "add_weight" or event.receiver.kind != "self" or kc is None or id(call) in seen:
            continue
        seen.add(id(call))
        if kc.kind not in ("layer", "model") or _has_star(call):
            continue
        arg = next((a for a in call.args if a.keyword is not None and a.keyword.value == "constraint"), None)
        if arg is None:
            continue
        bound = constraint(ctx, arg.value, kc.bases[0].flavor if kc.bases else None)
        if bound is None:
            continue
        given = call_arg(call, "initializer", None)
        if given is not None:
            init = initializer(ctx, given)
        else:
            # Keras 3 reads a second positional as the initializer, tf_keras as the shape.
            dtype = call_arg(call, "dtype", None)
            if _positional_count(call) > 1 or call_arg(call, "getter", None) is not None:
                continue
            if dtype is not None and not _is_float_dtype(ctx, dtype):
                continue
            init = _named_init("glorot_uniform", "glorot_uniform (add_weight's default)", None)
        if init is not None:
            yield kc, call, arg, bound, init


def _weight_name(call: cst.Call) -> str | None:
    return literal_string(call_arg(call, "name", None)) or literal_string(call_arg(call, "", 0))


def _weight_hits(ctx: Context) -> Iterator[Hit]:
    for kc, call, arg, bound, init in _weight_pairs(ctx):
        if _breaks(init, bound) and not _overwritten(ctx, call):
            name = _weight_name(call)
            yield _hit(arg, bound, init, f"weight {name!r}" if name else "the add_weight() weight",
                       {"cls": kc, "method": ctx.enclosing_function(call), "call": call})


def check(ctx: Context) -> Iterator[Hit]:
    reported: set[int] = set()
    for hit in (*_layer_hits(ctx), *_weight_hits(ctx)):
        if id(hit.node) not in reported:
            reported.add(id(hit.node))
            yield hit
