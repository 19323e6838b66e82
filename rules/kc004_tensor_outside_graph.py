"""Raw TensorFlow or NumPy operation on a symbolic KerasTensor while building a model.

## What it does
Flags, in module-level code and in functions that build models, an operation
that Keras 3 refuses on a symbolic `KerasTensor` (a value from `keras.Input()`
/ `tf.keras.Input()`, from a Keras layer or model applied to one, from
`keras.ops` / Python operators / slicing on one, or from a call that gives one:
`model.output` / `model.outputs` / `model.inputs`,
`model.get_layer(...).output`, a Keras application or a loaded model called on
a KerasTensor or its `.output`, `keras.applications.*.preprocess_input` on
one; tests/measurements/kc004_from_calls.py), followed through assignments,
tuple unpacking, lists, list comprehensions, `for` loops over a list of
tensors and helper functions of the same file that receive them (up to five
calls deep):

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
symbolic argument and the line that created it. One finding per cause: in a
statement, the first op on a KerasTensor; in a function body, the first op on
each root KerasTensor (the `Input` or layer output a chain of raw ops,
operators and slicing started from). The other ops of the same cause are its
related locations (JSON `related`, SARIF `relatedLocations`, and the text
output's code frame), so the count is what there is to fix.

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

Which Keras the code runs on comes from `ctx.facts` (README, "Keras target"):
the project's pins (TensorFlow < 2.16, keras < 3 or tf-keras < 2.16 in
requirements files, pyproject.toml, setup.cfg, setup.py, environment.yml,
Pipfile), `target-keras` / `per-file-target-keras` in the configuration, and
the file's own markers. Legacy Keras (tf_keras, TF <= 2.15, or `tf.keras` with
`TF_USE_LEGACY_KERAS=1`) wraps TF ops into layers (F4.8): a file that runs on
Keras 2 (its project pins it, it imports `tf_keras` or
`tensorflow.python.keras`, sets `TF_USE_LEGACY_KERAS`, or, in a notebook,
`pip install`s a TensorFlow below 2.16) gets no TF-op finding; NumPy on its
KerasTensors still raises `TypeError: You are passing KerasTensor(...), an
intermediate TF-Keras symbolic input/output, ...` and is still flagged.
`kerascheck check --target-keras 3` answers "what breaks when this project
moves to Keras 3": the TF-op findings of Keras 2 code are reported too, and
their message ends with the target and what the file would run on without it.

## Options
    [tool.kerascheck.kc004]
    legacy-keras = true   # deprecated: read as `target-keras = "2"` in [tool.kerascheck]

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

- for an op in a function: that function and the same-file definitions it uses (its body runs,
  up to the flagged op), called as
  `build()` when it needs no argument, else through a call site with literal arguments
  (`build_model(16)`), else with values synthesised from the parameters' names and type hints
  (`Wide(width=8)`, said in the evidence), else through the nearest caller that can be called
  that way (`attention(q, k)` is reached through `build()`); methods through `Class()` /
  `Class().method()`. No such entry: `needs runtime data (parameter X of f())`;
- for an op in module-level code (or in a helper called from it): only the module-level
  statements its names depend on, in order (`inputs = keras.Input(...)`, `x = layers.Dense(...)
  (inputs)`, ..., the flagged statement), never `model.fit`, data loading or other statements;
  a dependency on data, files, downloads or a module-level `if`/`for` block is reported
  instead of run.

TF, NumPy and `tf.keras.backend` calls that raise on a KerasTensor before the flagged op is
reached (another finding earlier in the same function) run as a Lambda layer (what M1 advises;
`tf.shape` as `keras.ops.shape`); one that fails even as a layer (`np.mean(x)`) is replaced by a
stand-in of its output shape (computed on concrete zeros: a Lambda of zeros with the batch
dimension, or the value itself without one), so each finding gets its own verdict; the evidence
counts both. The flagged op itself always runs as written. A file that sets `TF_USE_LEGACY_KERAS`,
and legacy-Keras findings (a project whose target is Keras 2, a file on tf_keras alone),
are built in the Keras 2 child (`TF_USE_LEGACY_KERAS=1`, where `tf.keras` is tf_keras); the rest
in the Keras 3 child, whatever the shell sets. Measured on fixtures/kc004 (TF 2.21, keras 3.15.1,
tf_keras 2.21): all 27 findings confirmed; 16 clean look-alikes (keras.ops, TF ops on constants,
the KerasTensor on the left of an operator, `Model(inputs=<layer output>)`, TF ops on tf_keras
tensors) all `not reproduced`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from kerascheck.rule import Context, Hit, ProjectFacts, Rule, Site, Value, call_arg, cst

# A KerasTensor needs an Input; a TF op needs TensorFlow imported; NumPy needs numpy; and
# the file imports Keras's public API (Keras's own sources import `keras.src`). A word that
# starts with a line break also matches at the start of the file.
PUBLIC_KERAS = (b"from tensorflow import keras", b"from tensorflow.keras", b"import tensorflow.keras",
                b"\nfrom keras import", b"\nfrom keras.layers", b"\nfrom keras.models", b"import tf_keras",
                b"from tf_keras")
# Deprecated: `legacy-keras = true` is read as `target-keras = "2"` (kerascheck/target.py); the rule
# reads ctx.facts, never this option.
OPTIONS = {"legacy-keras": False}

RULE = Rule(
    "KC004", "tensor-outside-graph",
    "{op} gets {arg}, {what} (line {src_line}), so {lib} raises {error}{target}",
    severity="error",
    needs=((b"Input", b"\nimport tensorflow", b"import keras"),
           (b"Input", b"import tensorflow", b"tf.keras"),
           *((b"Input", b"import tensorflow", m) for m in PUBLIC_KERAS),
           *((b"Input", b"numpy", m) for m in PUBLIC_KERAS)),
    # Where KerasTensors come from; the functions they are handed to are parsed with them.
    anchors=("keras.Input", "keras.layers.Input", "keras.Model", "keras.Functional", "keras.applications.*",
             "keras.models.load_model", "keras.saving.load_model"),
    options=OPTIONS,
)

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




# ------------------------------------------------------------------ which Keras


def legacy(facts: ProjectFacts) -> bool:
    """The file runs on Keras 2: the project pins it, the config says so, or the file imports
    tf_keras (or TF's own old Keras) or sets TF_USE_LEGACY_KERAS (ctx.facts)."""
    return facts.keras == "2"


def lib(facts: ProjectFacts, flavor: str | None) -> str | None:
    """Which Keras a flavor stands for here: "k3", "k2" or None (cannot tell)."""
    keras = facts.flavor_keras(flavor)
    return f"k{keras}" if keras else None


def value_lib(facts: ProjectFacts, value: Value) -> str | None:
    alt = first(value)
    if alt.canon is not None and alt.canon.flavor is not None:
        return lib(facts, alt.canon.flavor)
    if alt.app is not None and alt.app.layer.canon.flavor != "local":
        return lib(facts, alt.app.layer.canon.flavor)
    return None


# ------------------------------------------------------------------ where the code runs


def guarded(ctx: Context, node: cst.CSTNode, tf_only: bool) -> bool:
    """Under an `if` on a Keras/TF version or legacy flag (`tf_only`: TF ops only), or (not
    `tf_only`) where the code expects the error (a `try` that catches it, a test's `assertRaises`)."""
    if not tf_only:
        return bool(ctx.expected_errors(node) & CAUGHT)
    return any(not isinstance(cond, (cst.Try, cst.TryStar)) and isinstance(ctx.parent(cond), cst.If)
               and VERSION_GUARD.search(ctx.code(cond)) for cond in ctx.conditions(node))


def _module_level(ctx: Context, node: cst.CSTNode) -> bool:
    """Created by module-level code (not inside a function or lambda)."""
    return not any(isinstance(a, (cst.FunctionDef, cst.Lambda)) for a in ctx.ancestors(node))


def skip_site(ctx: Context, site: Site) -> bool:
    """Code that runs on real tensors, or that is not model-building code: a layer's `call()`,
    a function given to a Lambda layer, a lambda."""
    if site.in_call:
        return True
    lambda_fns = {fn.value for layer in ctx.picture.lambdas
                  if isinstance(fn := layer.arg("function", 0), cst.Name)}
    for current in site.chain():
        fn = current.function
        if isinstance(fn, cst.Lambda):
            return True
        if fn is not None:
            if current.cls is not None and fn.name.value in ("call", "__call__"):
                return True  # `self.call(inputs)` from another method: still the layer's own code
            if fn.name.value in lambda_fns:
                return True
    return False


def usable(ctx: Context, site: Site, value: Value) -> bool:
    """A function run on its own sees module-level KerasTensors only through globals: a
    loss or metric function closing over them is not model-building code."""
    if site.entry == "module":
        return True
    return not any(alt.node is None or _module_level(ctx, alt.node) for alt in value.alternatives())


# ------------------------------------------------------------------ messages


def first(value: Value) -> Value:
    return next(value.alternatives())


def _code(ctx: Context, node: cst.CSTNode) -> str:
    return ctx.code(node).strip()


def _label(ctx: Context, value: Value, fallback: cst.CSTNode | None = None) -> str:
    alt = first(value)
    if alt.label:
        return f"`{alt.label}`"
    for node in (alt.node, fallback):
        if node is not None:
            text = _code(ctx, node)
            if len(text) <= MAX_LABEL and "\n" not in text:
                return f"`{text}`"
    return "a KerasTensor" if alt.kt else "a value"


def _origin(ctx: Context, value: Value, prefix: str = "a symbolic KerasTensor") -> str:
    alt = first(value)
    node = alt.node
    if isinstance(node, cst.Call) and alt.canon is not None and alt.canon.flavor is not None:
        return f"{prefix} from `{_code(ctx, node.func)}`"
    if alt.app is not None and alt.app.call is node:
        return f"{prefix} output by `{alt.app.layer.short}`"
    return prefix


def _src(value: Value, fallback: cst.CSTNode) -> cst.CSTNode:
    node = first(value).node
    return node if node is not None else fallback


def tf_error(name: str, canon_flavor: str | None) -> str | None:
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


# ------------------------------------------------------------------ the check


@dataclass
class _Found:
    """A hit before grouping: what caused it, to report each cause once."""

    seq: int
    node: cst.CSTNode
    fmt: dict
    src: cst.CSTNode
    statement: cst.CSTNode | None = None
    root: tuple[int, int] | None = None  # (function, root KerasTensor): one cause per helper body
    also: list[cst.CSTNode] = field(default_factory=list)


def check(ctx: Context) -> Iterator[Hit]:
    facts = ctx.facts
    found = _found(ctx, facts)
    target = {}
    if facts.keras_forced and facts.keras_unforced is not None:
        # Name the target where it is the reason: the project itself runs another Keras.
        unforced = facts.keras_unforced
        without = {id(f.node) for f in _found(ctx, unforced)}
        note = (f" (target Keras {facts.keras} from --target-keras; this file runs Keras {unforced.keras}: "
                f"{unforced.keras_source})")
        target = {id(f.node): note for f in found if id(f.node) not in without}
    for f in _grouped(ctx, found):
        related = {"src": (f.src, "the KerasTensor comes from here")}
        for i, node in enumerate(f.also):
            related[f"also{i}"] = (node, f"same cause: {_short(ctx, node)}")
        yield Hit(f.node, fmt={**f.fmt, "target": target.get(id(f.node), "")}, related=related)


def _short(ctx: Context, node: cst.CSTNode) -> str:
    text = " ".join(_code(ctx, node).split())
    return f"`{text if len(text) <= 50 else text[:47] + '...'}`"


def _found(ctx: Context, facts: ProjectFacts) -> list[_Found]:
    reported: set[int] = set()
    return sorted([*_calls(ctx, facts, reported), *_binops(ctx, facts, reported), *_models(ctx, facts, reported)],
                  key=lambda f: f.seq)


def _statement(ctx: Context, node: cst.CSTNode) -> cst.CSTNode | None:
    for parent in ctx.ancestors(node):
        if isinstance(parent, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return parent
    return None


def _grouped(ctx: Context, found: list[_Found]) -> list[_Found]:
    """One finding per cause: the first op on a symbolic value in a statement, and in a function
    body the first op on each root KerasTensor; the others become its related locations."""
    by_statement: dict[int, _Found] = {}
    by_root: dict[tuple[int, int], _Found] = {}
    kept = []
    for f in found:
        owner = by_statement.get(id(f.statement)) if f.statement is not None else None
        if owner is None and f.root is not None:
            owner = by_root.get(f.root)
        if owner is not None:
            owner.also.append(f.node)
            if f.root is not None:
                by_root.setdefault(f.root, owner)  # what is grouped passes its root on
            continue
        kept.append(f)
        if f.statement is not None:
            by_statement[id(f.statement)] = f
        if f.root is not None:
            by_root.setdefault(f.root, f)
    return kept


def _cause(ctx: Context, event, value: Value) -> tuple[cst.CSTNode | None, tuple[int, int] | None]:
    fn = event.site.function
    origin = value.origin()
    root = (id(fn), id(origin)) if fn is not None and origin is not None else None
    return _statement(ctx, event.node), root


def _calls(ctx: Context, facts: ProjectFacts, reported: set[int]) -> Iterator[_Found]:
    is_legacy = legacy(facts)
    for event in ctx.picture.calls:
        if id(event.node) in reported or not event.symbolic:
            continue
        canon = event.canon
        is_numpy = canon.flavor is None and _numpy_converts(canon.name)
        error = None if is_numpy else tf_error(canon.name, canon.flavor)
        if error is None and not is_numpy:
            continue
        if canon.flavor is not None and canon.flavor != "tf.keras":
            continue  # only tf.keras.backend is TF's legacy backend; keras.backend has no such ops
        value = next((v for v in event.symbolic if usable(ctx, event.site, v)), None)
        if value is None or skip_site(ctx, event.site) or guarded(ctx, event.node, tf_only=False):
            continue
        found = value_lib(facts, value) or ("k2" if is_legacy else "k3")
        if is_numpy:
            error, keras = (M2, "Keras 3") if found == "k3" else (M6, "legacy Keras")
        else:
            if is_legacy or found != "k3" or guarded(ctx, event.node, tf_only=True):
                continue  # legacy Keras wraps TF ops into TFOpLambda layers (F4.8)
            keras = "Keras 3"
        reported.add(id(event.node))
        statement, root = _cause(ctx, event, value)
        yield _Found(event.seq, event.node,
                     {"op": f"`{_code(ctx, event.node.func)}`", "arg": _label(ctx, value),
                      "what": _origin(ctx, value), "lib": keras, "error": error},
                     _src(value, event.node), statement, root)


def _binops(ctx: Context, facts: ProjectFacts, reported: set[int]) -> Iterator[_Found]:
    is_legacy = legacy(facts)
    for event in ctx.picture.binops:
        left, right = event.left, event.right
        if id(event.node) in reported or not isinstance(event.node.operator, ARITHMETIC):
            continue
        if not (left.kind == "const" and left.lib == "numpy" and left.canon is not None and right.kt):
            continue
        name = left.canon.name
        if not (name.startswith("numpy.") and name[len("numpy."):] in NUMPY_VALUES):
            continue
        if not usable(ctx, event.site, right) or skip_site(ctx, event.site) or guarded(ctx, event.node, tf_only=False):
            continue
        if (value_lib(facts, right) or ("k2" if is_legacy else "k3")) != "k3":
            continue  # tf_keras KerasTensors accept it (kc004_extra.py)
        op = _code(ctx, event.node.operator) or "operator"
        left_text = f"`{left.label}`" if left.label else f"`{_code(ctx, event.node.left)}`"
        reported.add(id(event.node))
        statement, root = _cause(ctx, event, right)
        yield _Found(event.seq, event.node,
                     {"op": f"`{op}` with the NumPy value {left_text} on its left",
                      "arg": _label(ctx, right, event.node.right), "what": _origin(ctx, right),
                      "lib": "Keras 3", "error": M2},
                     _src(right, event.node), statement, root)


def _models(ctx: Context, facts: ProjectFacts, reported: set[int]) -> Iterator[_Found]:
    for event in ctx.picture.models:
        if id(event.node) in reported or event.inputs is None or event.inputs.kind == "union":
            continue
        model_lib = lib(facts, event.canon.flavor)
        if model_lib is None:
            continue
        items = event.inputs.items if event.inputs.kind == "seq" else (event.inputs,)
        given = call_arg(event.node, "inputs", 0) if event.inputs.kind != "seq" else None
        for item in items:
            found = _bad_input(ctx, facts, item, model_lib)
            if found is None or skip_site(ctx, event.site) or guarded(ctx, event.node, tf_only=False):
                continue
            what, error = found
            keras = "Keras 3" if model_lib == "k3" else "legacy Keras"
            reported.add(id(event.node))
            # A constant given as a model input is its own cause: never grouped with an op.
            yield _Found(event.seq, event.node,
                         {"op": f"`{_code(ctx, event.node.func)}(inputs=...)`", "arg": _label(ctx, item, given),
                          "what": what, "lib": keras, "error": error},
                         _src(item, event.node))
            break


def _bad_input(ctx: Context, facts: ProjectFacts, item: Value, model_lib: str) -> tuple[str, str] | None:
    if item.kind == "const" and item.canon is not None and isinstance(item.node, cst.Call):
        name = item.canon.name
        maker = f"`{_code(ctx, item.node.func)}`"
        if name.startswith("tensorflow.") and (name[11:] in TF_TENSOR_MAKERS or name == "tensorflow.Variable"):
            kind = "a TensorFlow variable" if name == "tensorflow.Variable" else "an eager TensorFlow tensor"
        elif name.startswith("numpy.") and name[6:] in NUMPY_ARRAY_MAKERS:
            kind = "a NumPy array"
        else:
            return None
        return f"{kind} (not a KerasTensor) from {maker}", (M3 if model_lib == "k3" else K2_MODEL)
    if item.kt:
        item_lib = value_lib(facts, item)
        if item_lib is None or item_lib == model_lib:
            return None
        if model_lib == "k3":
            return _origin(ctx, item, "a tf_keras KerasTensor"), M3
        return _origin(ctx, item, "a Keras 3 KerasTensor"), K2_MODEL_K3
    return None
