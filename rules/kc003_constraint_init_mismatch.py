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

Not flagged: norm constraints (`MaxNorm`, `MinMaxNorm`, `UnitNorm`), which
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
layer class as the file instantiates it, else with no arguments; the variable is picked out by
the call's line), on the input shape the code states (`input_shape=`, `batch_input_shape=`,
`input_dim=`, or the `Input(...)` it is applied to), else on a small default: (None, 8) for Dense,
normalization, PReLU and custom layers, (None, 16, 3) / (None, 8, 8, 3) / (None, 8, 8, 8, 3) for
1D/2D/3D convolutions, (None, 5, 4) for SimpleRNN/LSTM/GRU, (None, 5) for Embedding (its table
comes from its own arguments). Then it applies the constraint object the weight holds to the
initial value, as the optimizer does after its first step, and counts the entries that change
(|c(w) - w| > 1e-6 + 1e-6 |w|), seed 0. `confirmed` when more than 0.5 % change: measured 15.6 %
(RandomUniform(-0.1, 0.4)) to 100 % (Constant(2) under clip(0, 1)) on the positive fixtures,
about 50 % for every zero-mean initializer, 25 % for the LSTM forget-gate bias under clip(-0.5,
0.5); 0.0 % on all 40 clean look-alikes (NonNeg with zeros, ones, Constant(0.5),
RandomUniform(0, 0.1), Identity, TruncatedNormal(1, 0.1), default bias/gamma/beta/alpha;
clips around their initializer; MaxNorm(>= 2) on glorot_uniform). A constraint that raises
when applied (e.g. standalone `keras.backend.clip`, gone in Keras 3) is `could not build`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from kerascheck.names import Scope, blocks, children
from kerascheck.picture import (
    KerasClass,
    LayerDef,
    Picture,
    call_arg,
    literal_number,
    literal_string,
)
from kerascheck.rule import Hit

CODE, NAME = "KC003", "constraint-init-mismatch"
SEVERITY = "warning"
MESSAGE = ("{constraint} bounds {weight} to {allowed}, but its initializer {init} produces {values}: until the "
           "first optimizer step (forever if the layer is frozen or its weights are loaded) the layer computes with "
           "weights that break the constraint, and the first step {effect}")
# A constraint reaches a weight through a `*_constraint` or `constraint=` keyword; the
# bounds come from NonNeg or a `class ...(...Constraint):` with a `__call__`.
_USE = (b"_constraint", b"constraint=")
_BOUNDS = ((b"NonNeg",), (b"non_neg",), (b"'nonneg'",), (b'"nonneg"',), (b"nonneg(",), (b"Constraint)", b"__call__"))
NEEDS = tuple((use, *words) for use in _USE for words in _BOUNDS)
# Every construction the rule reads carries a `*_constraint` keyword; `__call__`
# keeps the body of a constraint class that derives from a local base class.
KEEP = ("onstraint", "__call__")

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


def _keyword(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def _is_false(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "False"


def _is_true(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


def _names_in(target: cst.CSTNode) -> Iterator[cst.Name]:
    if isinstance(target, cst.Name):
        yield target
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from _names_in(el.value)
    elif isinstance(target, cst.StarredElement):
        yield from _names_in(target.value)


def _statements(body) -> Iterator[cst.BaseSmallStatement]:
    """Small statements of a suite, in order, through compound statements but not into
    nested functions or classes (they are other scopes)."""
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            yield from node.body
        elif isinstance(node, (cst.IndentedBlock, cst.Module)):
            stack.extend(reversed(node.body))
        elif not isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            stack.extend(reversed(blocks(node)))


# ------------------------------------------------------------------ the file


class _File:
    """What the rule learns about one file, once."""

    def __init__(self, pic: Picture) -> None:
        self.pic = pic
        self.names = pic.names
        self.constraints = {kc.name: kc for kc in pic.classes if kc.kind == "constraint"}
        self._redeclared: frozenset[str] | None = None
        self._assigns: dict[tuple[int, str], cst.BaseExpression | None] = {}
        self._hidden: dict[int, frozenset[str]] = {}

    def code(self, node: cst.CSTNode, fallback: str) -> str:
        """The source of a short expression, for messages."""
        text = self.pic.module.code_for_node(node)
        return text if len(text) <= 48 and "\n" not in text else fallback

    # -- names bound once ----------------------------------------------------

    def redeclared(self) -> frozenset[str]:
        """Names some function declares `global` or `nonlocal`: rebindable from afar."""
        if self._redeclared is None:
            found: set[str] = set()
            for fn in self.pic.function_defs():
                for small in _statements(fn.body):
                    if isinstance(small, (cst.Global, cst.Nonlocal)):
                        found.update(n.name.value for n in small.names)
            self._redeclared = frozenset(found)
        return self._redeclared

    def binding_scope(self, name: str, scope: Scope) -> Scope | None:
        """The scope whose binding of `name` a use in `scope` sees (Python's rule)."""
        current: Scope | None = scope
        first = True
        while current is not None:
            if (current.kind != "class" or first) and name in current.bindings:
                return current
            first = False
            current = current.parent
        return None

    def hidden(self, scope: Scope) -> frozenset[str]:
        """Names bound by comprehensions, lambdas or `:=` in a scope's own code: the
        import table does not see them, so a use there may not mean the outer name."""
        key = id(scope.node)
        if key not in self._hidden:
            found: set[str] = set()
            stack: list[cst.CSTNode] = [scope.node]
            while stack:
                node = stack.pop()
                if node is not scope.node and isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                    continue
                if isinstance(node, cst.CompFor):
                    found.update(n.value for n in _names_in(node.target))
                elif isinstance(node, cst.Lambda):
                    found.update(p.name.value for p in (*node.params.params, *node.params.kwonly_params,
                                                        *node.params.posonly_params))
                elif isinstance(node, cst.NamedExpr):
                    found.update(n.value for n in _names_in(node.target))
                stack.extend(children(node))
            self._hidden[key] = frozenset(found)
        return self._hidden[key]

    def single_value(self, node: cst.Name, scope: Scope) -> tuple[cst.BaseExpression, Scope] | None:
        """The expression a name was bound to, if it was bound exactly once, by `name = expr`."""
        name = node.value
        if name in self.redeclared() or name in self.hidden(scope):
            return None
        owner = self.binding_scope(name, scope)
        if owner is None or len(owner.bindings[name]) != 1:
            return None
        key = (id(owner.node), name)
        if key not in self._assigns:
            found = []
            body = owner.node.body if not isinstance(owner.node, cst.Module) else owner.node
            for small in _statements(body):
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target = small.targets[0].target
                    if isinstance(target, cst.Name) and target.value == name:
                        found.append(small.value)
                elif (isinstance(small, cst.AnnAssign) and small.value is not None
                      and isinstance(small.target, cst.Name) and small.target.value == name):
                    found.append(small.value)
            self._assigns[key] = found[0] if len(found) == 1 else None
        value = self._assigns[key]
        return (value, owner) if value is not None else None

    def local_constraint(self, node: cst.BaseExpression, scope: Scope) -> KerasClass | None:
        if not isinstance(node, cst.Name) or node.value not in self.constraints:
            return None
        kc = self.constraints[node.value]
        owner = self.binding_scope(node.value, scope)
        defining = self.names.scope_of(kc.node).parent
        if owner is None or owner is not defining or len(owner.bindings[node.value]) != 1:
            return None
        return kc

    # -- constraints -----------------------------------------------------------

    def constraint(self, expr: cst.BaseExpression, scope: Scope, flavor: str | None, depth: int = 0) -> Bound | None:
        text = literal_string(expr)
        if text is not None:
            if text in ("non_neg", "NonNeg") or (text == "nonneg" and flavor == "tf_keras"):
                return Bound(repr(text), *NON_NEG)
            return None
        if isinstance(expr, cst.Name) and depth < 4:
            kc = self.local_constraint(expr, scope)
            if kc is not None:
                return None  # the class itself, not an instance
            bound = self.single_value(expr, scope)
            if bound is not None:
                return self.constraint(bound[0], bound[1], flavor, depth + 1)
            return None
        if not isinstance(expr, cst.Call) or _has_star(expr):
            return None
        kc = self.local_constraint(expr.func, scope)
        if kc is not None:
            bound = _custom(self, kc, expr)
            return Bound(self.code(expr, bound.label), bound.lo, bound.hi, bound.kind) if bound else None
        canon = self.pic.resolve(expr.func, scope) if isinstance(expr.func, (cst.Name, cst.Attribute)) else None
        if canon is None or canon.flavor is None:
            return None
        if canon.name in NON_NEG_NAMES and not expr.args:
            return Bound(f"{canon.short}()", *NON_NEG)
        return None

    # -- initializers ----------------------------------------------------------

    def initializer(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0) -> Init | None:
        text = literal_string(expr)
        if text is not None:
            return _named_init(text, repr(text), None)
        if isinstance(expr, cst.Name) and depth < 4:
            bound = self.single_value(expr, scope)
            if bound is not None:
                return self.initializer(bound[0], bound[1], depth + 1)
            return None
        if not isinstance(expr, cst.Call) or _has_star(expr):
            return None
        if not isinstance(expr.func, (cst.Name, cst.Attribute)):
            return None
        canon = self.pic.resolve(expr.func, scope)
        if canon is None:
            return None
        label = self.code(expr, f"{canon.short}(...)" if expr.args else f"{canon.short}()")
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


def _custom(f: _File, kc: KerasClass, call: cst.Call) -> Bound | None:
    fn = kc.methods.get("__call__")
    if fn is None or fn.asynchronous is not None:
        return None
    params = fn.params
    if len(params.params) != 2 or params.posonly_params or params.kwonly_params \
            or isinstance(params.star_arg, cst.Param) or params.star_kwarg is not None:
        return None
    self_name, weight = params.params[0].name.value, params.params[1].name.value
    attrs = _init_attrs(kc, call)
    if attrs is None:
        return None
    scope = f.names.scope_of(fn)
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
            value = _sym(f, small.value, env, attrs, self_name, scope)
            if value is None:
                return None
            env[small.targets[0].target.value] = value
            continue
        if isinstance(small, cst.Return) and small.value is not None and i == len(statements) - 1:
            result = _sym(f, small.value, env, attrs, self_name, scope)
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


def _init_attrs(kc: KerasClass, call: cst.Call) -> dict[str, float] | None:
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
    for small in _statements(fn.body):
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


def _sym(f: _File, expr: cst.BaseExpression, env: dict, attrs: dict, self_name: str, scope: Scope,
         depth: int = 0) -> tuple | None:
    if depth > 8:
        return None
    rec = lambda e: _sym(f, e, env, attrs, self_name, scope, depth + 1)
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
    canon = f.pic.resolve(expr.func, scope)
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


def _hit(arg: cst.Arg, bound: Bound, init: Init, weight: str, data: dict | None = None) -> Hit:
    return Hit(arg, fmt={"constraint": bound.label, "allowed": _interval(bound.lo, bound.hi), "weight": weight,
                         "init": init.label, "values": _values(init, bound), "effect": _effect(init, bound)},
               data=data or {})


def _layer_pairs(f: _File) -> Iterator[tuple[LayerDef, str, cst.Arg, Bound, Init]]:
    """Every (layer, constraint keyword, argument, bound, initializer) the rule can read."""
    for layer in f.pic.layers:
        table = WEIGHTS.get(layer.name)
        if table is None or layer.canon.flavor is None or _has_star(layer.node):
            continue
        if call_arg(layer.node, "weights", None) is not None:
            continue  # initial values given outright (Keras 2 and Embedding): the initializer is not used
        scope = layer.ctx.scope or f.names.root
        for keyword, (init_kw, default, position, switch) in table.items():
            arg = _keyword(layer.node, keyword)
            if arg is None:
                continue
            if switch is not None:
                gate = call_arg(layer.node, switch, None)
                if gate is not None and not _is_true(gate):
                    continue  # the weight may not exist
            bound = f.constraint(arg.value, scope, layer.canon.flavor)
            if bound is None:
                continue
            given = call_arg(layer.node, init_kw, None)
            if given is not None:
                init = f.initializer(given, scope)
            elif _positional_count(layer.node) > position:
                continue  # the initializer may be passed by position
            else:
                init = _named_init(default, f"{default} (the default)", None)
            if init is None:
                continue
            if keyword == "bias_constraint" and layer.name in FORGET_GATE:
                forget = call_arg(layer.node, "unit_forget_bias", None)
                if forget is None or _is_true(forget):
                    if not init.exact:
                        continue
                    init = Init(f"{init.label} with ones for the forget gate", min(init.lo, 1.0), max(init.hi, 1.0))
                elif not _is_false(forget):
                    continue
            yield layer, keyword, arg, bound, init


def _layer_hits(f: _File) -> Iterator[Hit]:
    for layer, keyword, arg, bound, init in _layer_pairs(f):
        if _breaks(init, bound):
            base = keyword[: -len("_constraint")]
            yield _hit(arg, bound, init, f"{WEIGHT_NAMES.get(base, base)} of {layer.short}",
                       {"layer": layer, "keyword": keyword})


def _add_weight_calls(fn: cst.FunctionDef, self_name: str) -> Iterator[cst.Call]:
    stack: list[cst.CSTNode] = [fn.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, cst.Call):
            func = node.func
            if (isinstance(func, cst.Attribute) and func.attr.value == "add_weight"
                    and isinstance(func.value, cst.Name) and func.value.value == self_name):
                yield node
        stack.extend(node.children)


_FLOAT_DTYPES = frozenset({"float16", "float32", "float64", "bfloat16"})


def _is_float_dtype(f: _File, dtype: cst.BaseExpression, scope: Scope) -> bool:
    text = literal_string(dtype)
    if text is not None:
        return text in _FLOAT_DTYPES
    if isinstance(dtype, (cst.Name, cst.Attribute)):
        canon = f.pic.resolve(dtype, scope)
        if canon is not None:
            root, _, short = canon.name.rpartition(".")
            return root in ("tensorflow", "numpy") and short in _FLOAT_DTYPES
    return False


def _weight_pairs(f: _File) -> Iterator[tuple[KerasClass, cst.FunctionDef, cst.Call, cst.Arg, Bound, Init]]:
    """Every (class, method, add_weight call, constraint argument, bound, initializer) the rule can read."""
    seen: set[int] = set()
    for kc in f.pic.classes:
        if kc.kind not in ("layer", "model"):
            continue
        for fn in kc.methods.values():
            params = fn.params.params
            if id(fn) in seen or not params:
                continue
            seen.add(id(fn))
            scope = f.names.scope_of(fn)
            for call in _add_weight_calls(fn, params[0].name.value):
                arg = _keyword(call, "constraint")
                if arg is None or _has_star(call):
                    continue
                bound = f.constraint(arg.value, scope, kc.bases[0].flavor if kc.bases else None)
                if bound is None:
                    continue
                given = call_arg(call, "initializer", None)
                if given is not None:
                    init = f.initializer(given, scope)
                else:
                    # Keras 3 reads a second positional as the initializer, tf_keras as the shape.
                    dtype = call_arg(call, "dtype", None)
                    if _positional_count(call) > 1 or call_arg(call, "getter", None) is not None:
                        continue
                    if dtype is not None and not _is_float_dtype(f, dtype, scope):
                        continue
                    init = _named_init("glorot_uniform", "glorot_uniform (add_weight's default)", None)
                if init is not None:
                    yield kc, fn, call, arg, bound, init


def _weight_name(call: cst.Call) -> str | None:
    return literal_string(call_arg(call, "name", None)) or literal_string(call_arg(call, "", 0))


def _weight_hits(f: _File) -> Iterator[Hit]:
    for kc, fn, call, arg, bound, init in _weight_pairs(f):
        if _breaks(init, bound):
            name = _weight_name(call)
            yield _hit(arg, bound, init, f"weight {name!r}" if name else "the add_weight() weight",
                       {"cls": kc, "method": fn, "call": call})


def check(pic: Picture) -> Iterator[Hit]:
    f = _File(pic)
    reported: set[int] = set()
    for hit in (*_layer_hits(f), *_weight_hits(f)):
        if id(hit.node) not in reported:
            reported.add(id(hit.node))
            yield hit


# ------------------------------------------------------------------ confirm mode
# What is built: the flagged layer alone, from its own constructor source in the file's slice
# (imports, the definitions it uses, and the values its function binds once by `name = expr`,
# e.g. `c = NonNeg()`), built on the input shape the code gives (`input_shape=`,
# `batch_input_shape=`, `input_dim=`, or the shape of the `Input(...)` it is applied to), else
# on a small default (see _default_shape). For `add_weight`, the custom layer class is
# instantiated as the file does it (else with no arguments) and built; the variable made by the
# flagged call is picked out by its line. Then the constraint object the variable holds is applied
# to the initial value, as the optimizer would after its first step (F3.1), and the share of
# entries it changes is measured. Threshold CHANGED_SHARE: measured on the fixtures, positives
# change 15.6-100 % (zero-mean initializers 25-75 % of small weights, ~50 % of large ones; the
# LSTM forget-gate bias 25 %; RandomUniform(-0.1, 0.4) 15.6 % of an 8x8 kernel; Constant(2)
# under clip(0, 1) 100 %); every clean look-alike changes 0 %.
CHANGED_SHARE = 0.5  # percent of the entries: above it, confirmed
CHANGE_TOL = 1e-6  # |c(w) - w| above this (plus 1e-6 relative) counts as a change
# The variable each constraint keyword governs, by attribute (on the layer, or its RNN cell).
CONFIRM_ATTRS = {
    "kernel_constraint": ("kernel",), "recurrent_constraint": ("recurrent_kernel",),
    "bias_constraint": ("bias",), "embeddings_constraint": ("embeddings",),
    "gamma_constraint": ("gamma",), "beta_constraint": ("beta",), "alpha_constraint": ("alpha",),
    "depthwise_constraint": ("depthwise_kernel", "kernel"), "pointwise_constraint": ("pointwise_kernel",),
}
_POSITIONS: list = [None, None]  # (module, PositionProvider map) of the last file asked


def _lines(pic: Picture, node: cst.CSTNode) -> tuple[int, int]:
    if _POSITIONS[0] is not pic.module:
        from libcst.metadata import MetadataWrapper, PositionProvider

        _POSITIONS[:] = [pic.module, MetadataWrapper(pic.module, unsafe_skip_copy=True).resolve(PositionProvider)]
    where = _POSITIONS[1][node]
    return where.start.line, where.end.line


def _bind_locals(f: _File, slicer, node: cst.CSTNode, scope: Scope, depth: int = 0) -> None:
    """Names an expression reads that are bound exactly once by `name = expr` (in its function or
    at module level, e.g. `shared = NonNeg()`), as job locals, dependencies first: the slice
    itself keeps only imports, definitions and call-free constants."""
    from kerascheck.confirm.slice import free_names

    if depth > 4:
        return
    for name in sorted(free_names(slicer.source(node))):
        if name in slicer.locals:
            continue
        found = f.single_value(cst.Name(name), scope)
        if found is None:
            continue
        value, owner = found
        _bind_locals(f, slicer, value, owner, depth + 1)
        if name not in slicer.locals:
            slicer.locals[name] = slicer.expr(value)


def _shape_sources(f: _File, slicer, layer: LayerDef) -> list[list[str]]:
    """Input shapes the code states for a layer: [kind, source, where] (kind: shape | batch | dim)."""
    out: list[list[str]] = []
    for keyword, kind in (("batch_input_shape", "batch"), ("input_shape", "shape"), ("input_dim", "dim")):
        value = call_arg(layer.node, keyword, None)
        if value is not None and not (keyword == "input_dim" and layer.short == "Embedding"):
            _bind_locals(f, slicer, value, layer.ctx.scope or f.names.root)
            out.append([kind, slicer.expr(value, layer.ctx), f"{keyword}="])
    for app in f.pic.applies:
        if app.layer is not layer:
            continue
        for value in app.inputs:
            for alt in value.alternatives():
                if alt.kind != "tensor" or alt.canon is None or alt.canon.name != "keras.Input":
                    continue
                if not isinstance(alt.node, cst.Call):
                    continue
                batch = call_arg(alt.node, "batch_shape", None)
                shape = call_arg(alt.node, "shape", 0)
                if batch is not None:
                    out.append(["batch", slicer.expr(batch, app.ctx), f"Input line {_lines(f.pic, alt.node)[0]}"])
                elif shape is not None:
                    out.append(["shape", slicer.expr(shape, app.ctx), f"Input line {_lines(f.pic, alt.node)[0]}"])
    return out


def _layer_job(f: _File, text: str, layer: LayerDef, keyword: str) -> dict:
    from kerascheck.confirm.slice import Slicer

    slicer = Slicer(f.pic, text)
    source = slicer.expr(layer.node, layer.ctx)
    _bind_locals(f, slicer, layer.node, layer.ctx.scope or f.names.root)
    base = keyword[: -len("_constraint")]
    return slicer.job(kind="layer", layer=source, keyword=keyword, shapes=_shape_sources(f, slicer, layer),
                      what=f"{WEIGHT_NAMES.get(base, base)} of {layer.short}")


def _instantiation(f: _File, kc: KerasClass) -> LayerDef | None:
    for app in f.pic.applies:
        if app.layer.canon.name == f"<local>.{kc.name}":
            return app.layer
    return None


def _weight_job(f: _File, text: str, kc: KerasClass, fn: cst.FunctionDef, call: cst.Call,
                made: LayerDef | None) -> dict:
    from kerascheck.confirm.slice import Slicer

    slicer = Slicer(f.pic, text)
    slicer.need(kc.name)
    if made is not None:
        ctor = slicer.expr(made.node, made.ctx)
        _bind_locals(f, slicer, made.node, made.ctx.scope or f.names.root)
        shapes = _shape_sources(f, slicer, made)
    else:
        ctor, shapes = f"{kc.name}()", []
    scope = f.names.scope_of(fn)
    _bind_locals(f, slicer, call, scope)
    name = _weight_name(call)
    params = [p.name.value for p in fn.params.params]
    return slicer.job(kind="add_weight", cls=kc.name, ctor=ctor, shapes=shapes, call=slicer.expr(call),
                      params=params, method=fn.name.value, lines=list(_lines(f.pic, call)),
                      what=f"weight {name!r} of {kc.name}" if name else f"the add_weight() weight of {kc.name}")


def confirm_job(hit: Hit, pic: Picture, text: str) -> dict | str | None:
    f = _File(pic)
    if "layer" in hit.data:
        return _layer_job(f, text, hit.data["layer"], hit.data["keyword"])
    if "call" in hit.data:
        kc = hit.data["cls"]
        return _weight_job(f, text, kc, hit.data["method"], hit.data["call"], _instantiation(f, kc))
    return None


def _max_norm(f: _File, expr: cst.BaseExpression, scope: Scope) -> float | None:
    """max_value of a MaxNorm / max_norm / "max_norm" constraint with a literal (or default) bound."""
    if literal_string(expr) == "max_norm":
        return 2.0
    if isinstance(expr, cst.Name):
        found = f.single_value(expr, scope)
        return _max_norm(f, found[0], found[1]) if found is not None else None
    if not isinstance(expr, cst.Call) or not isinstance(expr.func, (cst.Name, cst.Attribute)) or _has_star(expr):
        return None
    canon = f.pic.resolve(expr.func, scope)
    if canon is None or canon.flavor is None or canon.name not in ("keras.constraints.MaxNorm",
                                                                   "keras.constraints.max_norm"):
        return None
    if any(a.keyword is not None and a.keyword.value not in ("max_value", "axis") for a in expr.args):
        return None
    value = call_arg(expr, "max_value", 0)
    return 2.0 if value is None else _number(value)


def _constraint_class(f: _File, expr: cst.BaseExpression, scope: Scope, depth: int = 0) -> KerasClass | None:
    """The file's Constraint class an argument instantiates (directly or through a name bound once)."""
    if isinstance(expr, cst.Name) and depth < 4:
        found = f.single_value(expr, scope)
        return _constraint_class(f, found[0], found[1], depth + 1) if found is not None else None
    return f.local_constraint(expr.func, scope) if isinstance(expr, cst.Call) else None


def _legacy_backend(f: _File, kc: KerasClass) -> bool:
    """The constraint calls `keras.backend.<fn>` through standalone `keras`: Keras 3 has no such
    functions (AttributeError on the first call), so the recipe cannot measure it."""
    fn = kc.methods.get("__call__")
    if fn is None:
        return False
    scope = f.names.scope_of(fn)
    stack: list[cst.CSTNode] = [fn]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Call) and isinstance(node.func, (cst.Name, cst.Attribute)):
            canon = f.pic.resolve(node.func, scope)
            if canon is not None and canon.flavor == "keras" and canon.name.startswith("keras.backend."):
                return True
        stack.extend(node.children)
    return False


def confirm_lookalikes(pic: Picture, text: str) -> Iterator[dict]:
    """Clean code next to the bad pattern, for the tests: the recipe must say `not reproduced`.

    Element-wise constraints whose initializer the rule proves inside the bound (NonNeg on zeros,
    ones, Constant(c >= 0), RandomUniform(0, ...), Identity, default bias/gamma/beta/alpha; a clip
    around ones), and MaxNorm(max_value >= 2) on a default glorot_uniform kernel or a zeros bias,
    which never rescales (F3.7). add_weight only in a class the file instantiates. Not UnitNorm or
    MinMaxNorm: they do rescale initial columns (F3.7); the rule is silent on them for another
    reason (no entry is zeroed). Not constraints built on standalone `keras.backend.clip` & co.,
    which Keras 3 no longer has (the recipe reports `could not build` for them).
    """
    import importlib.util

    f = _File(pic)
    legacy = importlib.util.find_spec("tf_keras") is not None  # tf_keras layers need it installed
    for layer, keyword, arg, bound, init in _layer_pairs(f):
        if _breaks(init, bound) or (layer.canon.flavor == "tf_keras" and not legacy):
            continue
        kc = _constraint_class(f, arg.value, layer.ctx.scope or f.names.root)
        if kc is not None and _legacy_backend(f, kc):
            continue
        yield _layer_job(f, text, layer, keyword)
    for layer in f.pic.layers:
        table = WEIGHTS.get(layer.name)
        if table is None or layer.canon.flavor in (None, "mixed") or _has_star(layer.node):
            continue
        if layer.canon.flavor == "tf_keras" and not legacy:
            continue
        scope = layer.ctx.scope or f.names.root
        for keyword, (init_kw, default, position, switch) in table.items():
            arg = _keyword(layer.node, keyword)
            if arg is None or default not in ("glorot_uniform", "zeros") or call_arg(layer.node, init_kw, None):
                continue
            if _positional_count(layer.node) > position or call_arg(layer.node, "weights", None) is not None:
                continue
            if switch is not None and call_arg(layer.node, switch, None) is not None:
                continue
            if keyword == "bias_constraint" and layer.name in FORGET_GATE:
                continue
            value = _max_norm(f, arg.value, scope)
            if value is not None and value >= 2.0:
                yield _layer_job(f, text, layer, keyword)
    for kc, fn, call, arg, bound, init in _weight_pairs(f):
        made = _instantiation(f, kc)
        if made is not None and not _breaks(init, bound):
            yield _weight_job(f, text, kc, fn, call, made)


# -- the child side (TensorFlow imported) --------------------------------------------------


def _default_shape(layer) -> tuple:
    """Input shape when the code states none: a small one per layer type.

    Dense, normalization, PReLU, custom layers: (None, 8); Conv/Separable/Depthwise/Locally-
    connected 1D (None, 16, 3), 2D (None, 8, 8, 3), 3D (None, 8, 8, 8, 3); SimpleRNN/LSTM/GRU
    (None, 5, 4) and their cells (None, 4); ConvLSTM1D/2D/3D (None, 5, 8, 3) / (None, 5, 8, 8, 3)
    / (None, 5, 4, 4, 4, 3); Embedding (None, 5) (its table is (input_dim, output_dim) from its
    own arguments); MultiHeadAttention (None, 4, 8) as query and value; GroupNormalization
    (None, 4, groups) so the channels divide into its groups; EinsumDense rank from its equation.
    """
    name = type(layer).__name__
    if name.startswith("ConvLSTM"):
        return {"1": (None, 5, 8, 3), "2": (None, 5, 8, 8, 3), "3": (None, 5, 4, 4, 4, 3)}.get(name[8:9], (None, 5, 8, 8, 3))
    if name.endswith("Cell"):
        return (None, 4)
    if hasattr(layer, "cell") or name in ("SimpleRNN", "LSTM", "GRU"):
        return (None, 5, 4)
    if name == "Embedding":
        return (None, 5)
    if name == "MultiHeadAttention":
        return (None, 4, 8)
    if name == "GroupNormalization":
        groups = getattr(layer, "groups", 8)
        return (None, 4, groups if isinstance(groups, int) and groups > 0 else 8)
    if name == "EinsumDense":
        first = str(getattr(layer, "equation", "ab")).split(",")[0]
        rank = sum(c.isalpha() for c in first) + (1 if "..." in first else 0)
        return (None, *([8] * max(rank - 1, 1)))
    for n, shape in (("1D", (None, 16, 3)), ("2D", (None, 8, 8, 3)), ("3D", (None, 8, 8, 8, 3))):
        if n in name:
            return shape
    return (None, 8)


def _eval_shape(kind: str, source: str, probe, ns: dict) -> tuple:
    value = probe.eval(source, ns)
    if kind == "dim":
        return (None, int(value))
    dims = (value,) if isinstance(value, int) else tuple(value)
    dims = tuple(None if d is None else int(d) for d in dims)
    return dims if kind == "batch" else (None, *dims)


def _candidate_shapes(job: dict, probe, ns: dict, layer) -> list[tuple[tuple, str]]:
    out: list[tuple[tuple, str]] = []
    for kind, source, where in job.get("shapes", ()):
        try:
            shape = _eval_shape(kind, source, probe, ns)
        except Exception:  # noqa: BLE001, S112 - a shape known only at run time: use the default
            continue
        if (shape, where) not in out:
            out.append((shape, where))
    out.append((_default_shape(layer), "default"))
    return out


def _zeros(layer, shape: tuple, np):
    dims = tuple(2 if d is None else d for d in shape)
    if type(layer).__name__ == "Embedding":
        return np.zeros(dims, dtype="int32")
    return np.zeros(dims, dtype="float32")


def _build(layer, shape: tuple, np) -> None:
    if type(layer).__name__ == "MultiHeadAttention":
        x = _zeros(layer, shape, np)
        layer(x, x)
        return
    try:
        layer.build(shape)
    except Exception:  # some layers only build from a call
        if getattr(layer, "built", False):
            raise
        layer(_zeros(layer, shape, np))


def _is_variable(v) -> bool:
    return v is not None and hasattr(v, "assign") and hasattr(v, "shape")


def _layer_variables(layer, keyword: str) -> tuple[object, list]:
    names = CONFIRM_ATTRS.get(keyword, ())
    for holder in (layer, getattr(layer, "cell", None)):
        if holder is None:
            continue
        for attr in names:
            try:
                v = getattr(holder, attr, None)
            except Exception:  # noqa: BLE001 - a property that needs something else
                v = None
            if _is_variable(v):
                return holder, [v]
    # Sub-layers' weights (MultiHeadAttention's query/key/value/output projections).
    found = [v for v in layer.weights if str(getattr(v, "name", "")).split("/")[-1].split(":")[0] in names]
    return layer, found


def _built_layer(job: dict, probe, ns: dict):
    from kerascheck.confirm import CouldNotBuild

    np = probe.np
    first = probe.eval(job["layer"], ns)
    errors = []
    for shape, where in _candidate_shapes(job, probe, ns, first):
        probe.seed(0)
        layer = probe.eval(job["layer"], ns)  # a fresh layer per attempt
        try:
            _build(layer, shape, np)
        except Exception as exc:  # noqa: BLE001 - the next candidate shape may fit
            errors.append(f"input {shape} ({where}): {type(exc).__name__}: {exc}")
            continue
        holder, variables = _layer_variables(layer, job["keyword"])
        if not variables:
            raise CouldNotBuild(f"{type(layer).__name__} built on {shape} has no weight for {job['keyword']}")
        constraint = getattr(variables[0], "constraint", None) or getattr(holder, job["keyword"], None)
        note = f"{type(layer).__name__} on input {shape} ({where})"
        return variables, constraint, note
    raise CouldNotBuild(f"no input shape builds {type(first).__name__}: " + "; ".join(errors[:2]))


def _built_weight(job: dict, probe, ns: dict):
    import sys

    from kerascheck.confirm import CouldNotBuild
    from kerascheck.confirm.probe import describe, one_line

    np = probe.np
    cls = ns.get(job["cls"])
    if not isinstance(cls, type):
        raise CouldNotBuild(f"class {job['cls']} is not defined by the slice")
    path, (lo, hi) = job.get("path", "<slice>"), job["lines"]
    made: list = []
    original = cls.add_weight

    def add_weight(self, *args, **kwargs):
        v = original(self, *args, **kwargs)
        frame = sys._getframe(1)
        if frame.f_code.co_filename == path and lo <= frame.f_lineno <= hi:
            made.append(v)
        return v

    cls.add_weight = add_weight  # the slice's own class object: recorded per job
    probe.seed(0)
    layer = probe.eval(job["ctor"], ns)
    if made:
        return made[-1:], None, f"{job['cls']} constructed"
    failure, shapes = None, _candidate_shapes(job, probe, ns, layer)
    for shape, where in shapes:
        probe.seed(0)
        layer = probe.eval(job["ctor"], ns)
        try:
            layer.build(shape)
            if not made:  # weights made lazily in call()
                layer(_zeros(layer, shape, np))
        except Exception as exc:  # noqa: BLE001
            failure = failure or exc
        if made:
            return made[-1:], None, f"{job['cls']} on input {shape} ({where})"
    # build() failed before reaching the flagged call (or never made it): run that call alone.
    shape = shapes[0][0]
    local = dict(ns)
    params = job.get("params") or ["self"]
    local[params[0]] = layer
    for p in params[1:]:
        local[p] = shape
    try:
        v = probe.eval(job["call"], local)
    except Exception as exc:  # noqa: BLE001
        before = f"raised {describe(failure, path)}" if failure is not None else "never made the weight"
        raise CouldNotBuild(f"{job['cls']}.{job['method']}() {before}; the flagged add_weight call alone "
                            f"raised {type(exc).__name__}: {one_line(str(exc), 160)} (line {lo})") from None
    note = f"the add_weight call evaluated alone with input {shape}"
    if failure is not None:
        note += f" ({job['cls']}.{job['method']}() raised {describe(failure, path)})"
    return [v], None, note


def confirm(job: dict, probe) -> object:
    from kerascheck.confirm import CouldNotBuild
    from kerascheck.confirm.probe import describe

    np = probe.np
    ns = probe.namespace(job)
    if job.get("kind") == "add_weight":
        variables, constraint, note = _built_weight(job, probe, ns)
    else:
        variables, constraint, note = _built_layer(job, probe, ns)
    what = job.get("what", "the weight")
    before_parts, after_parts, names, dims = [], [], set(), []
    for v in variables:
        c = getattr(v, "constraint", None) or constraint
        if c is None:
            raise CouldNotBuild(f"{what} holds no constraint after build")
        names.add(type(c).__name__)
        before = np.asarray(v, dtype="float64")
        try:
            after = np.asarray(c(v), dtype="float64")
        except Exception as exc:  # noqa: BLE001 - the optimizer's first step would raise the same
            raise CouldNotBuild(f"applying {type(c).__name__} to {what} raised "
                                f"{describe(exc, job.get('path', '<slice>'))}") from None
        if after.shape != before.shape:
            after = np.broadcast_to(after, before.shape)
        before_parts.append(before.ravel())
        after_parts.append(after.ravel())
        dims.append("x".join(str(d) for d in before.shape) or "scalar")
    before, after = np.concatenate(before_parts), np.concatenate(after_parts)
    if before.size == 0:
        raise CouldNotBuild(f"{what} has no entries")
    changed = np.abs(after - before) > CHANGE_TOL + CHANGE_TOL * np.abs(before)
    n, total = int(changed.sum()), int(before.size)
    share = 100.0 * n / total
    cname = "/".join(sorted(names))
    if n and bool(np.all(after[changed] == 0)):
        effect = "set them to exactly 0"
    elif n and bool(np.all(after[changed] * before[changed] < 0)):
        effect = "flip their sign"
    else:
        effect = "move them to the constraint's bounds"
    confirmed = share > CHANGED_SHARE
    evidence = (f"{share:.1f} % of the initial entries of {what} ({'+'.join(dims)}: {n} of {total}) change under "
                f"{cname} ({'>' if confirmed else '<='} {CHANGED_SHARE} %); initial range "
                f"[{before.min():.3g}, {before.max():.3g}], {note}; ")
    if confirmed:
        return probe.confirmed(evidence + f"the first optimizer step will {effect}")
    return probe.not_reproduced(evidence + "the constraint leaves them as they are")
