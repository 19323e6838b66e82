"""Raw TensorFlow or NumPy operation on a symbolic KerasTensor while building a model.

## What it does
Flags, in module-level code and in functions that build models, an operation
that Keras 3 refuses on a symbolic `KerasTensor` (a value from `keras.Input()`
/ `tf.keras.Input()`, from a Keras layer or model applied to one, or from
`keras.ops` / Python operators / slicing on one), followed through
assignments, tuple unpacking, lists, list comprehensions, `for` loops over a
list of tensors and helper functions of the same file that receive them:

- a `tf.*` call (including the `tf.keras.backend` functions that are TF ops,
  e.g. `K.sum`) with a KerasTensor argument, also inside a list argument
  (`tf.concat([a, b], -1)`);
- a NumPy function with a KerasTensor argument (`np.sum(x)`, `np.asarray(x)`);
- a NumPy array or NumPy scalar (`np.ones(8)`, `np.float32(2.0)`,
  `np.sqrt(8.0)`) on the left of an arithmetic operator whose right side is a
  KerasTensor;
- `keras.Model(inputs=...)` given a `tf.constant`, `tf.Variable` or NumPy
  array, or a KerasTensor of the other Keras (`tf_keras` vs Keras 3).

The finding is reported at the call or operator that raises, and names the
symbolic argument and the line that created it.

## Why is this bad?
A KerasTensor is a placeholder for a shape and a dtype, not a tensor. Measured
with TensorFlow 2.21 / Keras 3.15.1 (KERAS_FACTS F4.1-F4.7, and the
extra measurements listed at the end): every raw TF op on one
raises at the op itself, `ValueError: A KerasTensor cannot be used as input to
a TensorFlow function.` (`tf.reduce_sum`, `tf.concat`, `tf.shape`, `tf.cast`,
`tf.identity`, `tf.split`, `tf.stack`, `tf.py_function`,
`tf.keras.backend.sum`, ... 60 `tf.keras.backend` functions); NumPy
functions raise `ValueError: A KerasTensor is symbolic: it's a placeholder for
a shape an a dtype.` (304 of NumPy's top-level functions, `np.linalg.norm`,
`np.fft.fft`; so does `tf.constant(x)`); so does a NumPy array or NumPy scalar
on the left of `+ - * / // % **` (Python floats such as `np.pi` or
`np.random.uniform()` are fine); and `keras.Model(inputs=...)` raises
`ValueError: All `inputs` values must be KerasTensors.` for eager tensors,
variables, NumPy arrays and tf_keras KerasTensors.

`tf.keras` is Keras 3 since TensorFlow 2.16, so model code written for
TensorFlow 2.15 and earlier, where TF ops on KerasTensors were wrapped into
`TFOpLambda` layers, breaks on upgrade exactly here.

Not flagged (they work): `keras.ops.*`, Python operators with the KerasTensor
or a TF tensor on the left, slicing, `x.shape` arithmetic, `np.shape(x)`,
`np.ndim(x)`, `tf.nest.*`, `tf.print`, `tf.is_tensor`, `tf.get_static_value`,
`tf.keras.backend.int_shape`, TF ops on constants, ops inside a `Layer.call()`
or a `Lambda` function (where the tensors are real), and
`Model(inputs=<an intermediate layer output>)`, which Keras 3 accepts (F4.6).
Nothing is flagged in functions whose tensors come from unknown parameters,
under an `if` on a version or legacy flag, or in a `try` that catches the error.

Legacy Keras (tf_keras, or `tf.keras` with `TF_USE_LEGACY_KERAS=1`) wraps TF
ops into layers (F4.8): a file that imports `tf_keras`, or mentions
`TF_USE_LEGACY_KERAS`, gets no TF-op finding; NumPy on its KerasTensors still
raises `TypeError: You are passing KerasTensor(...), an intermediate TF-Keras
symbolic input/output, ...` and is still flagged. For a project pinned to
TensorFlow <= 2.15 / Keras 2, set the option below.

## Options
    [tool.kerascheck.kc004]
    legacy-keras = true   # all Keras in this project is Keras 2: no TF-op findings

## Example
    inputs = tf.keras.Input((28, 28, 1))
    x = tf.keras.layers.Conv2D(8, 3)(inputs)
    x = tf.reduce_mean(x, axis=[1, 2])
    scale = np.sqrt(8.0) * x

## Use instead
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(8, 3)(inputs)
    x = keras.ops.mean(x, axis=[1, 2])     # or keras.layers.GlobalAveragePooling2D()
    scale = x * np.sqrt(8.0)              # or float(np.sqrt(8.0)) * x

Measurements beyond KERAS_FACTS (TF 2.21, keras 3.15.1, tf_keras 2.21, NumPy
2.4.6; script `tests/measurements/kc004_extra.py`, its output beside it): `tf.identity`,
`tf.split`, `tf.unstack`, `tf.stack`, `tf.size`, `tf.rank`, `tf.Variable`,
`tf.py_function`, `tf.debugging.assert_equal`, `tf.where`, `tf.one_hot`,
`tf.linalg.matmul`, `tf.image.resize`, `tf.data.Dataset.from_tensor_slices`
raise M1; `tf.constant(x)` and `tf.numpy_function` raise M2; `tf.nest.flatten`,
`tf.print`, `tf.is_tensor`, `tf.get_static_value`, `np.shape`, `np.ndim`,
`np.isscalar`, `tf.keras.backend.int_shape` work; `keras.backend` (Keras 3) has
no `int_shape`; `tf.map_fn`, `tf.experimental.numpy.*`,
`tf.compat.v1.layers.*` fail with other errors (not flagged). Under tf_keras,
`np.ones(8) * x` works; `tf_keras.Model(inputs=tf.constant(...))` raises
`ValueError: Found unexpected instance while processing input tensors for keras
functional model.` and `tf_keras.Model(inputs=keras.Input(...))` raises
`AttributeError: 'KerasTensor' object has no attribute 'node'`.

## Confirm mode
`--confirm` runs the code that builds the model up to the flagged op, catches what the op
itself raises, strips Keras's ANSI codes and matches the text against the first sentence of
the error the finding cites (M1, M2, M3, M6 or the measured tf_keras `Model` errors):
`confirmed` with that sentence as evidence; `not reproduced` ("the op ran on the KerasTensor
without error") if the op returns; `could not build` with the exception if anything else
raises first. The slice is the file's imports plus:

- for an op in a function: that function and the same-file definitions it uses, called as
  `build()` when it needs no argument, else through a call site with literal arguments
  (`build_model(16)`), else through the nearest caller that can be called that way
  (`attention(q, k)` is reached through `build()`); methods through `Class()` /
  `Class().method()`. No such entry: `needs runtime data (parameter X of f())`;
- for an op in module-level code (or in a helper called from it): only the module-level
  statements its names depend on, in order (`inputs = keras.Input(...)`, `x = layers.Dense(...)
  (inputs)`, ..., the flagged statement), never `model.fit`, data loading or other statements;
  a dependency on data, files, downloads or a module-level `if`/`for` block is reported
  instead of run.

TF, NumPy and `tf.keras.backend` calls that raise on a KerasTensor before the flagged op is
reached (another finding earlier in the same function) run as a Lambda layer (what M1 advises;
`tf.shape` as `keras.ops.shape`) and the evidence counts them; the flagged op itself always runs
as written. TensorFlow is imported once per run, so `TF_USE_LEGACY_KERAS` in a file cannot switch
`tf.keras` to Keras 2 any more: in such a file (and for legacy-Keras findings in a project pinned
with `legacy-keras = true`) the slice's `import tensorflow` / `from tensorflow.keras import ...`
are redirected to `tf_keras`, which is what the file would get. Measured on fixtures/kc004 (TF
2.21, keras 3.15.1, tf_keras 2.21): 24 of 25 findings confirmed in 0.3-1.0 s each (the other
needs a constructor argument); 16 clean look-alikes (keras.ops, TF ops on constants, the
KerasTensor on the left of an operator, `Model(inputs=<layer output>)`, TF ops on tf_keras
tensors) all `not reproduced`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from kerascheck.names import canonical
from kerascheck.picture import Context, Picture, Value
from kerascheck.rule import Hit

CODE, NAME = "KC004", "tensor-outside-graph"
SEVERITY = "error"
MESSAGE = "{op} gets {arg}, {what} (line {src_line}), so {lib} raises {error}"
# A KerasTensor needs an Input; a TF op needs TensorFlow imported; NumPy needs numpy; and
# the file imports Keras's public API (Keras's own sources import `keras.src`).
PUBLIC_KERAS = (b"from tensorflow import keras", b"from tensorflow.keras", b"import tensorflow.keras",
                b"\nfrom keras import", b"\nfrom keras.layers", b"\nfrom keras.models", b"import tf_keras",
                b"from tf_keras")
NEEDS = ((b"Input", b"\nimport tensorflow", b"import keras"),
         (b"Input", b"import tensorflow", b"tf.keras"),
         *((b"Input", b"import tensorflow", m) for m in PUBLIC_KERAS),
         *((b"Input", b"numpy", m) for m in PUBLIC_KERAS))
# Functions that make KerasTensors or pass them on (the helpers this rule follows must
# survive the partial parse); NEEDS keeps Keras's own sources out, so this can be broad.
KEEP = ("Input", "Model(", "tf.", "np.", "numpy", "layers", "backend", "K.", "Dense", "Conv", "Concatenate",
        "TF_USE_LEGACY_KERAS")
OPTIONS = {"legacy-keras": False}  # the project runs Keras 2 (TF <= 2.15 or tf_keras) everywhere

# First sentences of the errors (KERAS_FACTS M1, M2, M3, M6; kc004_extra.py for the tf_keras models).
M1 = 'ValueError: "A KerasTensor cannot be used as input to a TensorFlow function."'
M2 = "ValueError: \"A KerasTensor is symbolic: it's a placeholder for a shape an a dtype.\""
M3 = 'ValueError: "All `inputs` values must be KerasTensors."'
M6 = ('TypeError: "You are passing KerasTensor(...), an intermediate TF-Keras symbolic input/output, to a '
      'TF API that does not allow registering custom dispatchers, such as `tf.cond`, `tf.function`, '
      'gradient tapes, or `tf.map_fn`."')
K2_MODEL = 'ValueError: "Found unexpected instance while processing input tensors for keras functional model."'
K2_MODEL_K3 = "AttributeError: \"'KerasTensor' object has no attribute 'node'\""

# TF APIs that do not convert their argument: they work on a KerasTensor, or fail with
# another error (tf.map_fn, tf.experimental.numpy, tf.compat.v1.layers). Relative to `tensorflow.`.
TF_SILENT_PREFIXES = ("nest.", "experimental.numpy.", "compat.v1.layers.", "summary.", "compat.v1.summary.",
                      "compat.v1.logging.", "io.gfile.", "config.", "saved_model.", "distribute.", "data.experimental.",
                      "python.util.", "python.framework.tensor_shape.", "autograph.")
TF_SILENT = frozenset({
    "print", "is_tensor", "is_symbolic_tensor", "get_static_value", "TensorShape", "TensorSpec",
    "type_spec_from_value", "map_fn", "function", "name_scope", "device", "as_dtype", "dtypes.as_dtype",
    "compat.v1.name_scope", "compat.v1.variable_scope", "executing_eagerly", "GradientTape", "Module",
    "get_logger", "compat.v1.get_default_graph", "init_scope",
})
TF_M2 = frozenset({"constant", "numpy_function", "compat.v1.numpy_function", "compat.v1.constant"})
# `tf.keras.backend` (Keras 3's legacy backend) functions that raised M1 on a KerasTensor.
TF_KERAS_BACKEND_M1 = frozenset("""
abs all any argmax argmin batch_dot batch_flatten binary_crossentropy binary_focal_crossentropy cast
categorical_crossentropy conv2d conv3d cos ctc_decode ctc_label_dense_to_sparse cumprod cumsum
depthwise_conv2d dropout elu equal exp expand_dims flatten gather greater greater_equal hard_sigmoid
l2_normalize less less_equal log max maximum min minimum not_equal one_hot ones_like permute_dimensions
pow prod random_bernoulli random_normal random_uniform relu reshape reverse round shape sigmoid sign sin
softplus softsign spatial_2d_padding spatial_3d_padding sqrt square squeeze stack stop_gradient sum tanh
temporal_padding tile transpose truncated_normal variable zeros_like""".split())
# NumPy's top-level functions that raised M2 on a KerasTensor (np.shape and np.ndim work).
NUMPY_M2 = frozenset("""
abs absolute acos acosh add all allclose amax amin angle any append arange arccos arccosh arcsin arcsinh
arctan arctan2 arctanh argmax argmin argpartition argsort argwhere around array array_split asanyarray
asarray asarray_chkfinite ascontiguousarray asfortranarray asin asinh asmatrix atan atan2 atanh atleast_1d
atleast_2d atleast_3d average bartlett bincount bitwise_and bitwise_count bitwise_invert
bitwise_left_shift bitwise_not bitwise_or bitwise_right_shift bitwise_xor blackman block broadcast_arrays
broadcast_to cbrt ceil clip column_stack compress concat concatenate conj conjugate convolve copy copysign
corrcoef correlate cos cosh count_nonzero cov cross cumprod cumsum cumulative_prod cumulative_sum deg2rad
degrees delete diag diagflat diagonal diff digitize divide divmod dot dstack ediff1d einsum empty_like
equal exp exp2 expand_dims expm1 extract fabs fix flatnonzero flip fliplr flipud float_power floor
floor_divide fmax fmin fmod frexp full_like gcd gradient greater greater_equal hamming hanning heaviside
histogram histogram_bin_edges histogramdd hsplit hstack hypot i0 imag inner intersect1d invert isclose
iscomplex isfinite isin isinf isnan isneginf isposinf isreal kron lcm ldexp left_shift less less_equal
linspace log log10 log1p log2 logaddexp logaddexp2 logical_and logical_not logical_or logical_xor matmul
matrix_transpose matvec max maximum mean median min minimum mod modf multiply nan_to_num nanargmax
nanargmin nancumprod nancumsum nanmax nanmean nanmedian nanmin nanpercentile nanprod nanquantile nanstd
nansum nanvar negative nextafter nonzero not_equal ones_like outer pad partition percentile permute_dims
positive pow power prod ptp quantile rad2deg radians ravel real reciprocal remainder repeat reshape
resize right_shift rint roll rot90 round row_stack searchsorted setdiff1d setxor1d sign signbit sin sinc
sinh size sort spacing sqrt square squeeze stack std subtract sum take tan tanh tensordot tile trace
transpose trapezoid tril triu true_divide trunc union1d unique unravel_index unstack unwrap vander var
vdot vecdot vecmat vstack where zeros_like""".split())
NUMPY_M2_MODULES = ("numpy.linalg.", "numpy.fft.")
# NumPy calls whose result is an ndarray or a NumPy scalar for numeric arguments (measured):
# on the left of an operator with a KerasTensor they raise M2. Python floats (np.pi,
# np.random.uniform()) do not.
NUMPY_VALUES = frozenset("""
array asarray ones zeros full empty eye identity arange linspace ones_like zeros_like full_like sqrt exp
log log2 log10 log1p sin cos tan tanh power square abs absolute sum mean prod max min amax amin std var
median maximum minimum clip round floor ceil dot matmul outer concatenate stack reshape transpose
expand_dims squeeze tile repeat cumsum float16 float32 float64 int8 int16 int32 int64 uint8 uint16 uint32
uint64 bool_ double single half intc longlong""".split())
ARITHMETIC = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo, cst.Power)
# Model(inputs=...) values that are not KerasTensors (F4.6): what made them, and what they are.
TF_TENSOR_MAKERS = frozenset({
    "constant", "convert_to_tensor", "ones", "zeros", "fill", "eye", "range", "ones_like", "zeros_like",
    "random.normal", "random.uniform", "random.truncated_normal",
})
NUMPY_ARRAY_MAKERS = frozenset({
    "array", "asarray", "ones", "zeros", "empty", "full", "arange", "linspace", "eye", "identity",
    "ones_like", "zeros_like", "full_like", "stack", "concatenate", "load",
    "random.rand", "random.randn", "random.random", "random.normal", "random.uniform", "random.randint",
})
# An `if` on one of these chooses between Keras versions: its branches are on purpose.
VERSION_GUARD = re.compile(r"version|legacy|keras_?[23]\b|tf_keras|keras_?2|keras_?3|TF2|tf2_", re.I)
CAUGHT = frozenset({"Exception", "BaseException", "ValueError", "TypeError", "AttributeError", "NotImplementedError"})
MAX_LABEL = 40

VALID = [
    # keras.ops, Python operators with the KerasTensor on the left, slicing, shape arithmetic.
    "import keras\nimport numpy as np\nx = keras.Input((8,))\ny = keras.ops.sum(x * np.sqrt(8.0), axis=-1)\n"
    "z = x[:, 0] + 1\nn = np.prod(x.shape[1:])\nm = keras.Model(x, [y, z])\n",
    # TF ops inside a Layer's call() and a Lambda function.
    "import tensorflow as tf\nfrom tensorflow import keras\n"
    "class Sum(keras.layers.Layer):\n    def call(self, t):\n        return tf.reduce_sum(t, -1)\n"
    "x = keras.Input((8,))\ny = keras.layers.Lambda(lambda t: tf.nn.relu(t))(Sum()(x))\n",
    # A function whose tensors are parameters: unknown, so silent.
    "import tensorflow as tf\nfrom tensorflow.keras import layers\n"
    "def head(features):\n    return tf.reduce_mean(layers.Dense(4)(features), axis=1)\n",
    # Legacy Keras: tf_keras wraps TF ops into layers.
    "import tensorflow as tf\nimport tf_keras\nx = tf_keras.Input((8,))\ny = tf.reduce_sum(x, -1)\n",
    # Model(inputs=<intermediate layer output>) is accepted by Keras 3.
    "import keras\nimport tensorflow as tf\nx = keras.Input((8,))\nh = keras.layers.Dense(4)(x)\n"
    "m = keras.Model(inputs=h, outputs=keras.layers.Dense(1)(h))\nc = tf.reduce_sum(tf.constant([1.0]))\n",
    # A version guard.
    "import tensorflow as tf\nx = tf.keras.Input((8,))\nif tf.__version__ < '2.16':\n    y = tf.reduce_sum(x)\n"
    "else:\n    y = tf.keras.ops.sum(x)\n",
]
INVALID = [
    "import tensorflow as tf\n"
    "inputs = tf.keras.Input((32, 32, 3))\n"
    "x = tf.keras.layers.Conv2D(8, 3)(inputs)\n"
    "x = tf.reduce_mean(x, axis=[1, 2])  # expect: KC004\n",
    "import numpy as np\nfrom tensorflow.keras import Input as In, layers\n"
    "def build_model(width):\n"
    "    a = In((width,))\n"
    "    b = layers.Dense(width)(a)\n"
    "    c = np.float32(0.5) * b  # expect: KC004\n"
    "    return np.concatenate([a, b], axis=-1)  # expect: KC004\n",
    "import keras\nimport tensorflow as tf\n"
    "out = keras.layers.Dense(1)(keras.Input((4,)))\n"
    "model = keras.Model(inputs=tf.constant([[1.0] * 4]), outputs=out)  # expect: KC004\n",
]


@dataclass
class _File:
    """What the rule works out about one file, lazily."""

    pic: Picture
    pinned: bool  # the `legacy-keras` option
    _legacy: bool | None = None
    _env: bool | None = None
    _guarded: set[int] | None = None
    _tried: set[int] = field(default_factory=set)
    _module_level: set[int] | None = None
    _lambda_fns: set[str] | None = None
    codes: dict[int, str] = field(default_factory=dict)

    def code(self, node: cst.CSTNode) -> str:
        key = id(node)
        if key not in self.codes:
            self.codes[key] = self.pic.module.code_for_node(node).strip()
        return self.codes[key]

    @property
    def env_legacy(self) -> bool:
        """`TF_USE_LEGACY_KERAS` appears in the file: `tf.keras` may be Keras 2 (G.2)."""
        if self._env is None:
            self._env = "TF_USE_LEGACY_KERAS" in self.pic.module.code
        return self._env

    @property
    def legacy(self) -> bool:
        """The file imports tf_keras (or TF's own old Keras), or sets TF_USE_LEGACY_KERAS."""
        if self._legacy is None:
            flavors = {canonical(path).flavor for path in self.pic.names.imports()}
            self._legacy = self.pinned or bool(flavors & {"tf_keras", "tf.python.keras"}) or self.env_legacy
        return self._legacy

    def lib(self, flavor: str | None) -> str | None:
        """Which Keras a flavor stands for here: "k3", "k2" or None (cannot tell)."""
        if self.pinned:
            return "k2"
        if flavor in ("tf_keras", "tf.python.keras"):
            return "k2"
        if flavor == "keras":
            return "k3"
        if flavor == "tf.keras":
            return None if self.env_legacy else "k3"
        return None

    def value_lib(self, value: Value) -> str | None:
        alt = _first(value)
        if alt.canon is not None and alt.canon.flavor is not None:
            return self.lib(alt.canon.flavor)
        if alt.app is not None and alt.app.layer.canon.flavor != "local":
            return self.lib(alt.app.layer.canon.flavor)
        return None

    def guarded(self, node: cst.CSTNode, tf_only: bool) -> bool:
        """Under an `if` on a Keras/TF version or legacy flag (TF ops only), or in a `try`
        whose handler catches the error."""
        if self._guarded is None:
            self._guarded = set()
            self._find_guards(self.pic.module.body)
        return id(node) in self._guarded if tf_only else id(node) in self._tried

    def _find_guards(self, body) -> None:
        # Statements only: walking every expression with libcst's `children` is slow.
        for stmt in body:
            if isinstance(stmt, cst.If) and VERSION_GUARD.search(self.code(stmt.test)):
                _collect(stmt.body, self._guarded)
                if stmt.orelse is not None:
                    _collect(stmt.orelse, self._guarded)
                continue
            if isinstance(stmt, (cst.Try, cst.TryStar)) and any(_catches(h) for h in stmt.handlers):
                _collect(stmt.body, self._tried)
            for suite in _suites(stmt):
                self._find_guards(suite)

    def module_level(self, node: cst.CSTNode) -> bool:
        """Created by module-level code (not inside a function or lambda)."""
        if self._module_level is None:
            self._module_level = set()
            for stmt in self.pic.module.body:
                _collect(stmt, self._module_level, skip=(cst.FunctionDef, cst.Lambda))
        return id(node) in self._module_level

    def lambda_functions(self) -> set[str]:
        """Names of same-file functions given to a Lambda layer: they run on real tensors."""
        if self._lambda_fns is None:
            self._lambda_fns = set()
            for layer in self.pic.lambdas:
                fn = layer.arg("function", 0)
                if isinstance(fn, cst.Name):
                    self._lambda_fns.add(fn.value)
        return self._lambda_fns


def _collect(root: cst.CSTNode, into: set[int], skip: tuple[type, ...] = ()) -> None:
    stack = [root]
    while stack:
        node = stack.pop()
        if skip and isinstance(node, skip):
            continue
        into.add(id(node))
        stack.extend(node.children)


def _suites(stmt: cst.CSTNode) -> Iterator[list]:
    """The statement lists nested in a compound statement (elif as a one-statement list)."""
    if isinstance(stmt, cst.SimpleStatementLine):
        return
    for name in ("body", "orelse", "finalbody"):
        part = getattr(stmt, name, None)
        if isinstance(part, cst.If):
            yield [part]
        elif isinstance(part, (cst.Else, cst.Finally)):
            yield _block(part.body)
        elif isinstance(part, cst.BaseSuite):
            yield _block(part)
    for inner in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
        yield _block(inner.body)


def _block(suite) -> list:
    return list(suite.body) if isinstance(suite, cst.IndentedBlock) else []


def _catches(handler: cst.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elements if isinstance(handler.type, cst.Tuple) else [handler.type]
    for t in types:
        expr = t.value if isinstance(t, cst.Element) else t
        name = expr.attr.value if isinstance(expr, cst.Attribute) else getattr(expr, "value", None)
        if name in CAUGHT:
            return True
    return False


def _first(value: Value) -> Value:
    return next(value.alternatives())


def _symbolic(values, depth: int = 0) -> Iterator[Value]:
    """KerasTensors among operands: direct (every alternative symbolic) or list items."""
    for v in values:
        if v.kt:
            yield v
        elif v.kind == "seq" and depth < 2:
            yield from _symbolic(v.items, depth + 1)


def _skip_context(f: _File, ctx: Context) -> bool:
    """Code that runs on real tensors, or that is not model-building code."""
    if ctx.in_call:
        return True
    fn = ctx.function
    if fn is not None:
        if ctx.cls is not None and fn.name.value in ("call", "__call__"):
            return True  # `self.call(inputs)` from another method: still the layer's own code
        if fn.name.value in f.lambda_functions():
            return True
    return False


def _usable(f: _File, ctx: Context, value: Value) -> bool:
    """A function run on its own sees module-level KerasTensors only through globals: a
    loss or metric function closing over them is not model-building code."""
    if ctx.entry == "module":
        return True
    return not any(alt.node is None or f.module_level(alt.node) for alt in value.alternatives())


def _label(f: _File, value: Value, fallback: cst.CSTNode | None = None) -> str:
    alt = _first(value)
    if alt.label:
        return f"`{alt.label}`"
    for node in (alt.node, fallback):
        if node is not None:
            text = f.code(node)
            if len(text) <= MAX_LABEL and "\n" not in text:
                return f"`{text}`"
    return "a KerasTensor"


def _origin(f: _File, value: Value, prefix: str = "a symbolic KerasTensor") -> str:
    alt = _first(value)
    node = alt.node
    if isinstance(node, cst.Call) and alt.canon is not None and alt.canon.flavor is not None:
        return f"{prefix} from `{f.code(node.func)}`"
    if alt.app is not None and alt.app.call is node:
        return f"{prefix} output by `{alt.app.layer.short}`"
    return prefix


def _src(value: Value, fallback: cst.CSTNode) -> cst.CSTNode:
    node = _first(value).node
    return node if node is not None else fallback


def _tf_error(name: str, canon_flavor: str | None) -> str | None:
    """M1/M2 for a TF API that converts its argument, None for one that does not."""
    if canon_flavor is not None:  # tf.keras.backend.<op> (Keras 3's legacy backend)
        short = name.rsplit(".", 1)[-1]
        if name.startswith("keras.backend.") and name.count(".") == 2 and short in TF_KERAS_BACKEND_M1:
            return M1
        return None
    if not name.startswith("tensorflow."):
        return None
    rel = name[len("tensorflow."):]
    if rel.startswith("python.") and not rel.startswith("python.ops."):
        return None  # TF internals other than op modules
    if rel in TF_SILENT or rel.startswith(TF_SILENT_PREFIXES) or rel.split(".")[-1][:1].isupper() and rel not in ("Variable",):
        return None  # classes and non-converting APIs
    return M2 if rel in TF_M2 else M1


def _numpy_converts(name: str) -> bool:
    if name.startswith(NUMPY_M2_MODULES):
        return True
    return name.startswith("numpy.") and name[len("numpy."):] in NUMPY_M2


def check(pic: Picture, options: dict[str, Any] | None = None) -> Iterator[Hit]:
    f = _File(pic, bool((options or OPTIONS).get("legacy-keras", False)))
    reported: set[int] = set()
    yield from _calls(f, reported)
    yield from _binops(f, reported)
    yield from _models(f, reported)


def _calls(f: _File, reported: set[int]) -> Iterator[Hit]:
    for event in f.pic.calls:
        if id(event.node) in reported:
            continue
        canon = event.canon
        is_numpy = canon.flavor is None and _numpy_converts(canon.name)
        tf_error = None if is_numpy else _tf_error(canon.name, canon.flavor)
        if tf_error is None and not is_numpy:
            continue
        if canon.flavor is not None and canon.flavor != "tf.keras":
            continue  # only tf.keras.backend is TF's legacy backend; keras.backend has no such ops
        value = next((v for v in _symbolic(event.operands()) if _usable(f, event.ctx, v)), None)
        if value is None or _skip_context(f, event.ctx) or f.guarded(event.node, tf_only=False):
            continue
        lib = f.value_lib(value)
        if lib is None:
            lib = "k2" if f.legacy else "k3"
        if is_numpy:
            error, keras = (M2, "Keras 3") if lib == "k3" else (M6, "legacy Keras")
        else:
            if f.legacy or lib != "k3" or f.guarded(event.node, tf_only=True):
                continue  # legacy Keras wraps TF ops into TFOpLambda layers (F4.8)
            error, keras = tf_error, "Keras 3"
        reported.add(id(event.node))
        yield Hit(event.node, fmt={"op": f"`{f.code(event.node.func)}`", "arg": _label(f, value),
                                   "what": _origin(f, value), "lib": keras, "error": error},
                  related={"src": _src(value, event.node)})


def _binops(f: _File, reported: set[int]) -> Iterator[Hit]:
    for event in f.pic.binops:
        left, right = event.left, event.right
        if id(event.node) in reported or not isinstance(event.node.operator, ARITHMETIC):
            continue
        if not (left.kind == "const" and left.lib == "numpy" and left.canon is not None and right.kt):
            continue
        name = left.canon.name
        if not (name.startswith("numpy.") and name[len("numpy."):] in NUMPY_VALUES):
            continue
        if not _usable(f, event.ctx, right) or _skip_context(f, event.ctx) or f.guarded(event.node, tf_only=False):
            continue
        lib = f.value_lib(right) or ("k2" if f.legacy else "k3")
        if lib != "k3":
            continue  # tf_keras KerasTensors accept it (kc004_extra.py)
        op = f.code(event.node.operator).strip() or "operator"
        left_text = f"`{left.label}`" if left.label else f"`{f.code(event.node.left)}`"
        reported.add(id(event.node))
        yield Hit(event.node, fmt={"op": f"`{op}` with the NumPy value {left_text} on its left",
                                   "arg": _label(f, right, event.node.right), "what": _origin(f, right),
                                   "lib": "Keras 3", "error": M2},
                  related={"src": _src(right, event.node)})


def _models(f: _File, reported: set[int]) -> Iterator[Hit]:
    for event in f.pic.models:
        if id(event.node) in reported or event.inputs is None or event.inputs.kind == "union":
            continue
        model_lib = f.lib(event.canon.flavor)
        if event.canon.flavor == "tf.keras" and model_lib is None:
            continue
        if model_lib is None:
            continue
        items = event.inputs.items if event.inputs.kind == "seq" else (event.inputs,)
        for item in items:
            found = _bad_input(f, item, model_lib)
            if found is None or _skip_context(f, event.ctx) or f.guarded(event.node, tf_only=False):
                continue
            what, error = found
            keras = "Keras 3" if model_lib == "k3" else "legacy Keras"
            reported.add(id(event.node))
            yield Hit(event.node, fmt={"op": f"`{f.code(event.node.func)}(inputs=...)`", "arg": _label(f, item),
                                       "what": what, "lib": keras, "error": error},
                      related={"src": _src(item, event.node)})
            break


def _bad_input(f: _File, item: Value, model_lib: str) -> tuple[str, str] | None:
    if item.kind == "const" and item.canon is not None and isinstance(item.node, cst.Call):
        name = item.canon.name
        maker = f"`{f.code(item.node.func)}`"
        if name.startswith("tensorflow.") and (name[11:] in TF_TENSOR_MAKERS or name == "tensorflow.Variable"):
            kind = "a TensorFlow variable" if name == "tensorflow.Variable" else "an eager TensorFlow tensor"
        elif name.startswith("numpy.") and name[6:] in NUMPY_ARRAY_MAKERS:
            kind = "a NumPy array"
        else:
            return None
        return f"{kind} (not a KerasTensor) from {maker}", (M3 if model_lib == "k3" else K2_MODEL)
    if item.kt and not f.pinned:
        item_lib = f.value_lib(item)
        if item_lib is None or item_lib == model_lib:
            return None
        if model_lib == "k3":
            return _origin(f, item, "a tf_keras KerasTensor"), M3
        return _origin(f, item, "a Keras 3 KerasTensor"), K2_MODEL_K3
    return None


# ----------------------------------------------------------------------------- confirm mode
# The lint-worker side (no TensorFlow): which code to run and where the flagged op is.
# `confirm()` below runs in the child with TensorFlow. See "## Confirm mode" in the docstring.

KNOWN = {"M1": M1, "M2": M2, "M3": M3, "M6": M6, "K2_MODEL": K2_MODEL, "K2_MODEL_K3": K2_MODEL_K3}
MAX_ENTRY_HOPS = 6  # functions walked up the call graph to find one confirm mode can call
# Module-level statements a slice never runs (data, files, network, training), by callee.
UNSAFE_CALLS = ("numpy.load", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile", "numpy.memmap", "numpy.save",
                "pandas.", "tensorflow.data.", "tensorflow.io.", "tensorflow.saved_model.", "tensorflow.summary.",
                "tensorflow.keras.datasets.", "keras.datasets.", "tensorflow.keras.utils.get_file",
                "keras.utils.get_file", "tensorflow.keras.models.load_model", "keras.models.load_model",
                "keras.saving.", "tensorflow.keras.preprocessing.", "keras.preprocessing.", "tf_keras.datasets.",
                "tf_keras.models.load_model", "os.", "sys.", "shutil.", "subprocess.", "pickle.", "json.", "h5py.",
                "cv2.", "PIL.", "requests.", "urllib.", "glob.", "pathlib.", "time.", "torch.", "sklearn.")
UNSAFE_BUILTINS = frozenset({"open", "input", "exec", "eval", "compile", "__import__", "exit", "quit", "breakpoint"})
UNSAFE_METHODS = frozenset({"fit", "fit_generator", "train_on_batch", "evaluate", "predict", "predict_on_batch",
                            "save", "save_weights", "load_weights", "read", "readlines", "read_csv", "numpy",
                            "to_numpy", "download", "compile", "summary", "plot_model"})
DOWNLOADS = ("keras.applications.", "tensorflow.keras.applications.", "tf_keras.applications.")
MUTATORS = frozenset({"append", "extend", "insert", "add", "update"})
_STATE: dict[str, Any] = {}  # the last file's ast index and libcst positions (one file at a time)


class _Src:
    """The file's `ast`: top-level statements, defs, call sites, Call/BinOp nodes by line."""

    def __init__(self, text: str) -> None:
        import ast

        self.text = text
        self.tree = ast.parse(text)
        self.lines = re.split(r"\r\n|\r|\n", text)
        self.parent: dict[int, Any] = {}  # id(def or lambda) -> enclosing def/class/module
        self.by_line: dict[int, list] = {}  # line -> Call/BinOp nodes starting there
        self.sites: dict[str, list] = {}  # called name -> [(Call, enclosing def or None)]
        self.aliases: dict[str, str] = {}  # import alias -> dotted module path
        stack = [(self.tree, self.tree)]
        while stack:
            node, owner = stack.pop()
            for child in ast.iter_child_nodes(node):
                inner = owner
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                    self.parent[id(child)] = owner
                    inner = child
                elif isinstance(child, (ast.Call, ast.BinOp)):
                    self.by_line.setdefault(child.lineno, []).append(child)
                    if isinstance(child, ast.Call):
                        name = _called_name(child.func)
                        if name is not None:
                            self.sites.setdefault(name, []).append((child, None if owner is self.tree else owner))
                if isinstance(child, ast.Import):
                    for a in child.names:
                        self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                    for a in child.names:
                        self.aliases[a.asname or a.name] = f"{child.module}.{a.name}"
                stack.append((child, inner))

    def char_col(self, line: int, byte_col: int) -> int:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return byte_col if text.isascii() else len(text.encode()[:byte_col].decode(errors="ignore"))

    def span(self, node) -> tuple[int, int, int, int]:
        return (node.lineno, self.char_col(node.lineno, node.col_offset),
                node.end_lineno, self.char_col(node.end_lineno, node.end_col_offset))

    def find(self, where, kind: str):
        """The ast Call/BinOp a libcst CodeRange covers (the outermost, parentheses aside)."""
        import ast

        want = ast.Call if kind == "call" else ast.BinOp
        start, end = (where.start.line, where.start.column), (where.end.line, where.end.column)
        best, size = None, None
        for node in self.by_line.get(where.start.line, ()):
            if not isinstance(node, want):
                continue
            line, col, end_line, end_col = self.span(node)
            if (line, col) >= start and (end_line, end_col) <= end:
                extent = (end_line - line, end_col - col)
                if size is None or extent > size:
                    best, size = node, extent
        return best

    def top_index(self, line: int, col: int | None = None) -> int | None:
        """The top-level statement holding (line, byte column); `a = f(); b = g()` are two."""
        for i, stmt in enumerate(self.tree.body):
            first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", ())])
            last = stmt.end_lineno or stmt.lineno
            if not first <= line <= last:
                continue
            if col is not None and ((line == stmt.lineno and col < stmt.col_offset and first == stmt.lineno)
                                    or (line == last and col >= (stmt.end_col_offset or 0))):
                continue
            return i
        return None

    def dotted(self, func) -> str | None:
        """`np.load` -> "numpy.load" through the file's imports; None for method calls."""
        import ast

        parts = []
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if not isinstance(func, ast.Name):
            return None
        root = self.aliases.get(func.id)
        if root is None:
            return None if parts else func.id
        return ".".join([root, *reversed(parts)])


def _called_name(func) -> str | None:
    import ast

    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
        return "self." + func.attr
    return None


def _index(pic: Picture, text: str) -> tuple[_Src, dict]:
    """The file's ast index and the positions of every libcst node (cached for the file)."""
    if _STATE.get("module") is not pic.module or _STATE.get("text") is not text:
        from kerascheck.positions import positions

        _STATE.clear()
        _STATE.update(module=pic.module, text=text, src=_Src(text), pos=positions(pic.module, None, []))
    return _STATE["src"], _STATE["pos"]


def _required(fn, method: bool) -> list[str]:
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    if method and positional:
        positional = positional[1:]
    need = [p.arg for p in positional[: len(positional) - len(a.defaults)]]
    need += [p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is None]
    return need


def _literal_call(call) -> bool:
    import ast

    values = [*call.args, *(k.value for k in call.keywords)]
    if any(isinstance(v, ast.Starred) for v in call.args) or any(k.arg is None for k in call.keywords):
        return False
    try:
        for v in values:
            ast.literal_eval(v)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False
    return True


def _entry(src: _Src, line: int, col: int) -> tuple[str, Any] | str:
    """How to reach code at (line, byte column): ("module", top-level statement index) or
    ("call", expression evaluated after the slice), or why it needs runtime data."""
    import ast

    index = src.top_index(line, col)
    if index is None:
        return "the flagged op is not in a statement of the file"
    fn = None
    for node in ast.walk(src.tree.body[index]):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and \
                node.lineno <= line <= (node.end_lineno or node.lineno) and (fn is None or node.lineno >= fn.lineno):
            fn = node  # the innermost one
    if fn is None:
        return "module", index
    if isinstance(fn, ast.Lambda):
        return "the flagged op is inside a lambda, which confirm mode does not call"
    queue, seen, first = [fn], set(), None
    while queue and len(seen) < MAX_ENTRY_HOPS:
        fn = queue.pop(0)
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        owner = src.parent.get(id(fn))
        method = isinstance(owner, ast.ClassDef)
        need = _required(fn, method)
        if first is None:
            first = (fn.name, need)
        if owner is src.tree and not need:
            return "call", f"{fn.name}()"
        sites: list = []
        if owner is src.tree:
            sites = src.sites.get(fn.name, [])
        elif method and src.parent.get(id(owner)) is src.tree:
            init = next((s for s in owner.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None)
            init_need = _required(init, True) if init is not None else []
            if fn.name == "__init__":
                if not need:
                    return "call", f"{owner.name}()"
                sites = src.sites.get(owner.name, [])
            else:
                if not need and not init_need:
                    return "call", f"{owner.name}().{fn.name}()"
                sites = [s for s in src.sites.get("self." + fn.name, [])
                         if s[1] is not None and src.parent.get(id(s[1])) is owner]
        elif isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef)):
            sites = [s for s in src.sites.get(fn.name, []) if s[1] is owner]
        for call, where in sites:  # `build_model(16)`, wherever it is: evaluated on its own
            if (owner is src.tree or (method and fn.name == "__init__")) and _literal_call(call):
                return "call", ast.get_source_segment(src.text, call)
        for call, where in sites:
            if where is None:
                return "module", src.top_index(call.lineno, call.col_offset)
            if isinstance(where, (ast.FunctionDef, ast.AsyncFunctionDef)):  # not a lambda or class body
                queue.append(where)
    name, need = first
    if need:
        return f"needs runtime data (parameter {need[0]} of {name}(), no call site with literal arguments)"
    return f"no way to call {name}() without runtime data"


def _names_read(node) -> set[str]:
    import ast

    out = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
        out.add(node.target.id)
    return out


def _names_bound(stmt) -> tuple[set[str], set[str]]:
    """(names the statement binds or changes, names it rebinds completely)."""
    import ast

    changed, rebound = set(), set()
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Attribute) and func.attr in MUTATORS and isinstance(func.value, ast.Name):
            changed.add(func.value.id)  # `outputs.append(x)`, `model.add(layer)`
        return changed, rebound
    else:  # compound statements and the rest: whatever they may bind
        for n in ast.walk(stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                changed.add(n.id)
        return changed, rebound
    for target in targets:
        for n in ast.walk(target):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                changed.add(n.id)
                if not isinstance(stmt, ast.AugAssign):
                    rebound.add(n.id)
            elif isinstance(n, (ast.Subscript, ast.Attribute)) and isinstance(n.value, ast.Name):
                changed.add(n.value.id)  # `d["k"] = x`: changes d
    return changed, rebound


def _unsafe(src: _Src, stmt) -> str | None:
    """Why a module-level statement must not run in a slice (data, files, training), or None."""
    import ast

    if not isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr)):
        return f"a module-level `{type(stmt).__name__.lower()}` block"
    for node in ast.walk(stmt):
        if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom)):
            return "an await/yield"
        if not isinstance(node, ast.Call):
            continue
        name = src.dotted(node.func)
        code = (ast.get_source_segment(src.text, node.func) or "?")[:40]
        if name is None:  # a method of some object
            if isinstance(node.func, ast.Attribute) and node.func.attr in UNSAFE_METHODS:
                return f"`{code}(...)`"
            continue
        if name in UNSAFE_BUILTINS or name.startswith(UNSAFE_CALLS):
            return f"`{code}(...)`"
        if name.startswith(DOWNLOADS) and name.count(".") >= 2 and name.split(".")[-1][:1].isupper():
            weights = next((k.value for k in node.keywords if k.arg == "weights"), None)
            if not (isinstance(weights, ast.Constant) and weights.value is None):
                return f"`{code}(...)` (downloads pretrained weights)"
    return None


def _module_statements(src: _Src, index: int):
    """The module-level statements the statement at `index` depends on, in order (itself
    last), and the names still needed from imports/definitions/constants; or a reason."""
    import ast

    body = src.tree.body
    stmt = body[index]
    if not isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Return)):
        kind = type(stmt).__name__.lower()
        return (f"the flagged op is in a module-level `{kind}` block (line {stmt.lineno}); "
                "confirm mode runs only the straight-line statements that build the model")
    chosen, needed = [stmt], _names_read(stmt)
    for prev in reversed(body[:index]):
        if isinstance(prev, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue  # the slice brings imports and definitions by name
        if isinstance(prev, ast.Try) and all(isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass, ast.Assign))
                                             for s in ast.walk(prev) if isinstance(s, ast.stmt) and s is not prev):
            continue  # `try: import tf_keras as keras / except ImportError: ...`
        changed, rebound = _names_bound(prev)
        hit = changed & needed
        if not hit:
            continue
        why = _unsafe(src, prev)
        if why is not None:
            return (f"the flagged op depends on `{min(hit)}`, set at line {prev.lineno} by "
                    f"{why}, which confirm mode does not run")
        chosen.append(prev)
        needed = (needed - (rebound & hit)) | _names_read(prev)
    return list(reversed(chosen)), needed


def _overlay(slice_src: str, src: _Src, stmts) -> str:
    """Add module-level statements to a slice, at their original lines and columns."""
    out = slice_src.split("\n")
    while len(out) < len(src.lines):
        out.append("")
    for stmt in stmts:
        first, last = stmt.lineno, stmt.end_lineno or stmt.lineno
        for n in range(first, last + 1):
            piece = src.lines[n - 1]
            if n == last:
                piece = piece[: src.char_col(n, stmt.end_col_offset)]
            if n == first:
                col = src.char_col(n, stmt.col_offset)
                piece = piece[col:]
                if out[n - 1].strip():
                    if out[n - 1].strip() == piece.strip():
                        continue
                    piece = out[n - 1].rstrip() + "; " + piece
                else:
                    piece = " " * col + piece
            out[n - 1] = piece
    return "\n".join(out)


def _isolable(stmt) -> bool:
    """A plain module-level statement (not an import, definition or block)."""
    import ast

    return isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr))


def _key(node) -> list[int]:
    return [node.lineno, node.col_offset, node.end_lineno, node.end_col_offset]


def _deferrable(pic: Picture) -> Iterator[tuple[cst.CSTNode, str]]:
    """TF / NumPy calls and NumPy-left operators outside `call()`: if one of them raises on a
    KerasTensor before the flagged op runs, the child runs it as a Lambda layer (what M1
    advises). Not only calls on known KerasTensors: the picture does not follow every result
    (`K.softmax(K.batch_dot(q, k))`), and a call that works is simply run as it is."""
    for event in pic.calls:
        canon = event.canon
        if event.ctx.in_call:
            continue
        if (canon.flavor is None and canon.name.startswith(("tensorflow.", "numpy."))) or \
                (canon.flavor == "tf.keras" and canon.name.startswith("keras.backend.")):
            yield event.node, "call"
    for event in pic.binops:
        left = event.left
        if not event.ctx.in_call and left.kind == "const" and left.lib == "numpy" and event.right.kt:
            yield event.node, "binop"


def _job(pic: Picture, text: str, node: cst.CSTNode, kind: str, expect: str | None, legacy_tf: bool,
         src_node: cst.CSTNode | None = None) -> dict | str:
    """The job for the op at `node`: the slice, how to enter it, and where the op is."""
    import ast

    from kerascheck.confirm.slice import Slicer, free_names

    src, pos = _index(pic, text)
    where = pos.get(node)
    target = src.find(where, kind) if where is not None else None
    if target is None:
        return "the flagged op was not found in the file's syntax tree"
    entry = _entry(src, target.lineno, target.col_offset)
    if isinstance(entry, str):
        return entry
    how, what = entry
    slicer = Slicer(pic, text)
    statements, via = [], None
    if how == "module":
        got = _module_statements(src, what)
        if isinstance(got, str):
            return got
        statements, needed = got
        slicer.need(*needed)
        made = pos[src_node].start.line if src_node is not None and pos.get(src_node) is not None else None
        if made is not None and src.top_index(made) is not None:  # where the KerasTensor was made
            body = src.tree.body
            owner = body[src.top_index(made)]
            kept = any(s.lineno <= made <= (s.end_lineno or s.lineno) for s in statements)
            if made < statements[-1].lineno and _isolable(owner) and not kept:
                return (f"the KerasTensor made at line {made} does not reach the flagged op through "
                        "names confirm mode can follow")
        entry_src = None
        if not statements[-1].lineno <= target.lineno <= (statements[-1].end_lineno or 0):
            via = f"the module-level statement at line {statements[-1].lineno}"
    else:
        entry_src = via = what
        slicer.need(*free_names(what))
    defer = []
    seen = {id(node)}
    for other, other_kind in _deferrable(pic):
        if id(other) in seen:
            continue
        seen.add(id(other))
        at = pos.get(other)
        found = src.find(at, other_kind) if at is not None else None
        if found is not None and found is not target:
            defer.append({"pos": _key(found), "kind": other_kind})
    op = " ".join((ast.get_source_segment(text, target) or "").split())
    op = op if len(op) <= MAX_LABEL else op[: MAX_LABEL - 3] + "..."
    job = slicer.job(target={"pos": _key(target), "kind": kind, "op": op},
                     defer=defer, entry=entry_src, via=via, expect=expect, legacy_tf=legacy_tf,
                     line=target.lineno)
    if statements:
        job["slice"] = _overlay(job["slice"], src, statements)
    return job


def _legacy_tf(text: str) -> bool:
    """`tf.keras` is Keras 2 in this file (TF_USE_LEGACY_KERAS set before TensorFlow is imported)."""
    return "TF_USE_LEGACY_KERAS" in text


def confirm_job(hit: Hit, pic: Picture, text: str) -> dict | str:
    expect = next((name for name, msg in KNOWN.items() if hit.fmt.get("error") == msg), None)
    if expect is None:
        return None
    kind = "binop" if isinstance(hit.node, cst.BinaryOperation) else "call"
    imports_tf_keras = any(canonical(p).flavor == "tf_keras" for p in pic.names.imports())
    # A project pinned to Keras 2 (`legacy-keras = true`): its `tf.keras` is tf_keras too.
    legacy_tf = _legacy_tf(text) or (hit.fmt.get("lib") == "legacy Keras" and not imports_tf_keras)
    return _job(pic, text, hit.node, kind, expect, legacy_tf, hit.related.get("src"))


def confirm_lookalikes(pic: Picture, text: str) -> Iterator[dict]:
    """Clean code the rule leaves alone, next to the flagged code: each must run without error.

    `keras.ops.*` on KerasTensors; a TF op whose operand is a TF constant; a KerasTensor on the
    left of an operator with a NumPy or TF value, and a TF tensor on the left (F4.3);
    `Model(inputs=<an intermediate layer output>)` (F4.6); and in legacy-Keras files the TF ops
    and NumPy-left operators on tf_keras KerasTensors (F4.8, kc004_extra D). Code under a version
    guard or in a `try`, inside `call()`/Lambda functions, or unreachable without runtime data is
    skipped.
    """
    f = _File(pic, False)
    flagged = {id(h.node) for h in check(pic)}
    legacy_tf = _legacy_tf(text)
    seen: set[int] = set()

    def usable(event, value=None) -> bool:
        if id(event.node) in flagged or id(event.node) in seen or _skip_context(f, event.ctx):
            return False
        if f.guarded(event.node, tf_only=False) or f.guarded(event.node, tf_only=True):
            return False
        return value is None or _usable(f, event.ctx, value)

    candidates: list[tuple[cst.CSTNode, str]] = []
    for event in pic.calls:
        canon = event.canon
        value = next(iter(_symbolic(event.operands())), None)
        if canon.flavor is not None and canon.name.startswith("keras.ops.") and value is not None:
            ok = usable(event, value)
        elif canon.flavor is None and _tf_error(canon.name, None) is not None:
            if value is None:  # a TF op on a TF constant
                ok = any(v.kind == "const" and v.lib == "tf" for v in event.operands()) and usable(event)
            else:  # a TF op on a legacy KerasTensor: wrapped into a TFOpLambda layer
                ok = f.legacy and (f.value_lib(value) or "k2") == "k2" and usable(event, value)
        else:
            ok = False
        if ok:
            seen.add(id(event.node))
            candidates.append((event.node, "call"))
    for event in pic.binops:
        left, right = event.left, event.right
        if not isinstance(event.node.operator, ARITHMETIC):
            continue
        if left.kt and right.kind == "const" and right.lib in ("numpy", "tf"):
            ok = usable(event, left)
        elif right.kt and left.kind == "const" and left.lib == "tf":
            ok = usable(event, right)
        elif right.kt and left.kind == "const" and left.lib == "numpy":
            ok = f.value_lib(right) == "k2" and usable(event, right)
        else:
            ok = False
        if ok:
            seen.add(id(event.node))
            candidates.append((event.node, "binop"))
    for event in pic.models:
        if event.inputs is None or event.inputs.kind == "union":
            continue
        items = event.inputs.items if event.inputs.kind == "seq" else (event.inputs,)
        if items and all(v.kt for v in items) and any(_first(v).app is not None for v in items) and usable(event):
            seen.add(id(event.node))
            candidates.append((event.node, "call"))
    _, pos = _index(pic, text)

    def inside(node, others) -> bool:  # nested in a flagged op or in another look-alike
        at = pos.get(node)
        return at is not None and any(
            o is not node and (at.start.line, at.start.column) >= (w.start.line, w.start.column)
            and (at.end.line, at.end.column) <= (w.end.line, w.end.column)
            for o in others for w in [pos.get(o)] if w is not None)

    import importlib.util

    has_tf_keras = importlib.util.find_spec("tf_keras") is not None  # found, not imported
    outer = [h.node for h in check(pic)] + [n for n, _ in candidates]
    for node, kind in candidates:
        if inside(node, outer):
            continue
        job = _job(pic, text, node, kind, None, legacy_tf)
        if isinstance(job, dict) and (has_tf_keras or not (legacy_tf or "tf_keras" in job["slice"])):
            yield job


# The child side (TensorFlow imported): run the slice, catch the flagged op's exception.

_TARGET, _DEFER, _TARGET_OP, _DEFER_OP = "__kc004_target__", "__kc004_defer__", "__kc004_target_op__", "__kc004_defer_op__"
_OPERATORS = {"Add": "add", "Sub": "sub", "Mult": "mul", "Div": "truediv", "FloorDiv": "floordiv", "Mod": "mod",
              "Pow": "pow", "MatMult": "matmul", "LShift": "lshift", "RShift": "rshift", "BitOr": "or_",
              "BitXor": "xor", "BitAnd": "and_"}


class _Done(BaseException):
    """The flagged op has run (or raised): stop the slice there."""


def _pattern(sentence: str):
    """A regex for a cited first sentence; `KerasTensor(...)` stands for the tensor's repr."""
    body = re.escape(sentence).replace(re.escape("KerasTensor(...)"), r"KerasTensor\(.*?\)")
    return re.compile(re.sub(r"(\\ )+", r"\\s+", body), re.DOTALL)


def _expected(name: str) -> tuple[str, str]:
    kind, _, sentence = KNOWN[name].partition(": ")
    return kind, sentence.strip('"')


def _is_kt(value) -> bool:
    return type(value).__name__ == "KerasTensor"


def _leaves(value, out: list, depth: int = 0):
    """Replace KerasTensors in a nest of lists/tuples/dicts by slots; collect them in `out`."""
    if _is_kt(value):
        out.append(value)
        return ("__kc004_slot__", len(out) - 1)
    if depth < 4 and isinstance(value, (list, tuple)):
        return type(value)(_leaves(v, out, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict):
        return {k: _leaves(v, out, depth + 1) for k, v in value.items()}
    return value


def _fill(value, tensors, depth: int = 0):
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "__kc004_slot__":
        return tensors[value[1]]
    if depth < 4 and isinstance(value, (list, tuple)):
        return type(value)(_fill(v, tensors, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict):
        return {k: _fill(v, tensors, depth + 1) for k, v in value.items()}
    return value


def _instrument(tree, job: dict) -> int:
    """Wrap the flagged op (and the ops to defer) in calls to the child's helpers; returns how
    many times the target was found (0 or 1)."""
    import ast

    target = tuple(job["target"]["pos"])
    defer = {tuple(d["pos"]) for d in job.get("defer", ())}
    found = [0]

    class Wrap(ast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            key = tuple(_key(node))
            if key == target or key in defer:
                found[0] += key == target
                new = ast.Call(func=ast.Name(_TARGET if key == target else _DEFER, ast.Load()),
                               args=[node.func, *node.args], keywords=node.keywords)
                return ast.copy_location(new, node)
            return node

        def visit_BinOp(self, node):
            self.generic_visit(node)
            key = tuple(_key(node))
            name = _OPERATORS.get(type(node.op).__name__)
            if name is not None and (key == target or key in defer):
                found[0] += key == target
                new = ast.Call(func=ast.Name(_TARGET_OP if key == target else _DEFER_OP, ast.Load()),
                               args=[ast.Constant(name), node.left, node.right], keywords=[])
                return ast.copy_location(new, node)
            return node

    Wrap().visit(tree)
    ast.fix_missing_locations(tree)
    return found[0]


def _builtins_for(job: dict):
    """The slice's builtins; for a TF_USE_LEGACY_KERAS file, `tensorflow.keras` imports tf_keras.

    TensorFlow is imported once per run, before any slice, so the environment variable cannot
    switch `tf.keras` any more: the slice's own imports are redirected instead.
    """
    import builtins
    import types

    if not job.get("legacy_tf"):
        return builtins
    from kerascheck.confirm import CouldNotBuild

    try:
        import tf_keras
    except ImportError as exc:
        raise CouldNotBuild(f"missing dependency: {exc} (the file runs tf.keras as legacy Keras 2)") from None
    import tensorflow

    class LegacyTF(types.ModuleType):
        def __getattr__(self, name):
            return tf_keras if name == "keras" else getattr(tensorflow, name)

    proxy = LegacyTF("tensorflow")
    real = builtins.__import__

    def import_(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name == "tensorflow":
            return proxy
        if level == 0 and (name == "tensorflow.keras" or name.startswith("tensorflow.keras.")):
            module = real("tf_keras" + name[len("tensorflow.keras"):], globals, locals, fromlist, level)
            return module if fromlist else proxy
        return real(name, globals, locals, fromlist, level)

    return {**builtins.__dict__, "__import__": import_}


def confirm(job: dict, probe) -> object:
    import ast
    import operator

    from kerascheck.confirm import CouldNotBuild
    from kerascheck.confirm.probe import describe, one_line, strip_ansi, where

    path = job.get("path", "<slice>")
    line, op = job["line"], job["target"].get("op") or "the flagged op"
    tree = ast.parse(job["slice"], path)
    if not _instrument(tree, job):
        raise CouldNotBuild(f"the flagged op (line {line}) is not in the slice")
    state: dict[str, Any] = {"deferred": 0}
    keras_ops = probe.keras.ops

    def run_target(fn, *args, **kwargs):
        state["reached"] = True
        tensors: list = []
        _leaves((args, kwargs), tensors)
        state["symbolic"] = bool(tensors)
        try:
            state["result"] = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - what the op raises is the measurement
            state["error"] = exc
        raise _Done

    def run_deferred(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            tensors: list = []
            nest = _leaves((args, kwargs), tensors)
            if not tensors:
                raise
            try:
                if fn is probe.tf.shape and len(tensors) == 1:  # its Keras 3 form, usable in slices
                    out = keras_ops.shape(tensors[0])
                else:
                    def body(ts):
                        a, kw = _fill(nest, ts if isinstance(ts, (list, tuple)) else [ts])
                        return fn(*a, **kw)

                    library = probe.keras_for(tensors[0])
                    out = library.layers.Lambda(body)(tensors if len(tensors) > 1 else tensors[0])
            except Exception:  # noqa: BLE001 - the op blocks the way: report its own error
                raise exc from None
            state["deferred"] += 1
            return out

    def target_op(name, left, right):
        return run_target(getattr(operator, name), left, right)

    def deferred_op(name, left, right):
        try:
            return getattr(operator, name)(left, right)
        except Exception:  # noqa: BLE001 - a NumPy value on the left: let the KerasTensor apply it
            if _is_kt(right) and hasattr(right, f"__r{name.rstrip('_')}__"):
                out = getattr(right, f"__r{name.rstrip('_')}__")(left)
                if out is not NotImplemented:
                    state["deferred"] += 1
                    return out
            raise

    ns: dict[str, Any] = {"__name__": "__kerascheck_slice__", "__file__": f"{probe.workdir}/slice.py",
                          "__builtins__": _builtins_for(job), _TARGET: run_target, _DEFER: run_deferred,
                          _TARGET_OP: target_op, _DEFER_OP: deferred_op}
    code = compile(tree, path, "exec")
    try:
        exec(code, ns)  # noqa: S102 - confirm mode runs the model-building slice on request
        if job.get("entry"):
            eval(compile(job["entry"], path, "eval"), ns)  # noqa: S307
    except _Done:
        pass
    except ImportError as exc:
        raise CouldNotBuild(f"missing dependency: {one_line(str(exc))}{where(exc, path)}") from None
    except NameError as exc:
        raise CouldNotBuild(probe.name_reason(exc, path)) from None
    except Exception as exc:  # noqa: BLE001
        raise CouldNotBuild(f"{describe(exc, path)}, before the flagged op (line {line}) ran") from None
    if not state.get("reached"):
        via = f" via {job['via']}" if job.get("via") else ""
        raise CouldNotBuild(f"the slice ran{via} without reaching the flagged op (line {line})")
    note = f"; {state['deferred']} earlier TF/NumPy op(s) on KerasTensors ran as Lambda layers" \
        if state["deferred"] else ""
    via = f" via {job['via']}" if job.get("via") else ""
    if "error" not in state:
        what = "on the KerasTensor without error" if state["symbolic"] else \
            "without error (no KerasTensor among its operands)"
        return probe.not_reproduced(f"the op ran {what}: `{op}` (line {line}{via}) returned "
                                    f"{type(state['result']).__name__}{note}")
    exc = state["error"]
    text = strip_ansi(str(exc))
    names = [job["expect"]] if job.get("expect") else list(KNOWN)
    for name in names:
        kind, sentence = _expected(name)
        if type(exc).__name__ == kind and _pattern(sentence).search(text):
            return probe.confirmed(f"`{op}` (line {line}{via}) raised {kind}: {sentence} [{name}]{note}")
    raise CouldNotBuild(f"the flagged op raised another error: {describe(exc, path)}"
                        + (f" (expected {job['expect']})" if job.get("expect") else ""))
