"""A Keras 2 API that Keras 3 removed: the line raises on Keras 3.

## What it does
In code that runs on Keras 3 (`import keras`, or `tf.keras` since TF 2.16), flags what
Keras 3 no longer has, each measured to raise on Keras 3.15 (KERAS_FACTS_2 N3):

- `model.fit_generator` / `evaluate_generator` / `predict_generator`, `predict_classes`,
  `predict_proba` (AttributeError, N3.1);
- the modules and names `keras.layers.merge`, `keras.layers.Merge`,
  `keras.layers.experimental` (also through `tf.keras`), `keras.layers.CuDNNLSTM` /
  `CuDNNGRU`, `keras.utils.multi_gpu_model`, `keras.utils.np_utils`,
  `keras.wrappers.scikit_learn`, `keras.preprocessing.image.ImageDataGenerator` (the
  `tf.keras` copy still works), `keras.optimizers.legacy` (ImportError M7), and the
  backend's `set_session`, `get_session`, `learning_phase`, `set_learning_phase`, wherever
  they are imported or used (N3.1);
- `K.<fn>` where `K` is Keras 3's `keras.backend`, which has 14 public names left
  (`epsilon`, `floatx`, `image_data_format`, `clear_session`, ...): `K.sum`, `K.mean`,
  `K.int_shape` and the rest raise AttributeError (N3.9; tests/measurements/kc008_keras3_upgrade.py
  K1 lists them). Through `tf.keras.backend` (a legacy copy with 137 names) only the 15
  names that copy lacks too (`placeholder`, `function`, `learning_phase`, ...);
- optimizer `lr=` (ValueError: Argument(s) not recognized) and reading `optimizer.lr`
  (AttributeError; N3.1, N3.3);
- `fit` / `evaluate` / `predict` with `workers=`, `use_multiprocessing=`,
  `max_queue_size=` or `nb_epoch=` (TypeError, N3.4);
- `save_weights` with a literal path that does not end in `.weights.h5`, and `save` (or
  `keras.models.save_model`) of a Keras model with a literal path that has no `.keras` or
  `.h5` extension (ValueError, N3.7);
- `regularizers.l1(l=...)` / `l2(l=...)` (TypeError, N3.8).

It stays silent where Keras 3 does not raise: `train_on_batch`, `reset_metrics`,
`Convolution2D`, `keras.utils.Sequence`, `tf.keras.backend.sum` (N3.2, N3.9),
`ImageDataGenerator` through `tf.keras`, `input_shape=` / `input_dim=` on a layer and
`Embedding(input_length=)` (a warning only, N3.5), `kernel_initializer="normal"` (N3.6),
`save("m.h5")` and `save(..., save_format="tf")` with a `.keras` path. It is silent in code
that expects the failure (in a `try` whose `except` catches it, in a test's
`with self.assertRaises(...)` / `pytest.raises(...)`, under `if hasattr(opt, "lr")`)
and in code that runs on Keras 2: files that import `tf_keras` or mention `TF_USE_LEGACY_KERAS`, and
projects whose Keras target is 2 (unless `--target-keras 3`). Arguments that Keras accepts
but ignores or renamed (`decay=`, `InputLayer(input_shape=)`, `lr=` on tf_keras) are
KC023's, a warning.

## Why is this bad?
Since TF 2.16, `pip install tensorflow` installs Keras 3, and `tf.keras` is Keras 3. Code
from the Keras 2 years stops at these lines with an AttributeError, ImportError, TypeError
or ValueError: the training script that ran last year does not start.

## Example
    model.fit_generator(train_gen, steps_per_epoch=100, epochs=10)
    opt = keras.optimizers.Adam(lr=1e-3)
    x = K.sum(x, axis=-1)
    model.save_weights("weights.h5")

## Use instead
    model.fit(train_gen, steps_per_epoch=100, epochs=10)
    opt = keras.optimizers.Adam(learning_rate=1e-3)
    x = keras.ops.sum(x, axis=-1)
    model.save_weights("weights.weights.h5")

## Fix safety
Safe (the code then does on Keras 3 what it did on Keras 2, and nothing else changes):
`lr=` -> `learning_rate=`; `fit_generator` / `evaluate_generator` -> `fit` / `evaluate`
when no argument is passed that `fit`/`evaluate` would reject for a generator
(`workers`, `use_multiprocessing`, `max_queue_size`, `class_weight`: measured, K4), with
positional arguments after the generator written as keywords and `verbose=0` added to
`evaluate` (Keras 2's default there; Keras 3 prints a progress bar);
`keras.layers.merge.concatenate` (and the other merge functions and classes) ->
`keras.layers.concatenate`, also in `from keras.layers.merge import ...`; `nb_epoch=` ->
`epochs=`; `regularizers.l2(l=...)` -> `l2(l2=...)`; `K.<fn>(...)` -> `keras.ops.<fn>(...)`
for the 30 functions whose `keras.ops` twin takes the same parameters and gives the same
values, dtypes and kinds on float, int and bool tensors (K1: abs, all, any,
binary_crossentropy, cast, categorical_crossentropy, cos, dtype, elu, exp, log, max, min,
ndim, prod, round, sigmoid, sign, sin, softmax, softplus, softsign, square, squeeze, stack,
std, sum, tanh, transpose, var; not `mean`, which returns floats for int tensors, nor
`sqrt`, which K clipped at 0, nor `shape`, nor `hard_sigmoid`). Where `keras.ops` has no
name in the file, the fix adds `import keras` before the first import.

Unsafe: `predict_generator` -> `predict` (Keras 3's `predict` rejects a Python generator
that yields bare arrays, which Keras 2's `predict_generator` took: measured, so read the
generator first); `save_weights("w.h5")` -> `save_weights("w.weights.h5")`, which writes
to another file name (code that loads `w.h5` must follow).

Display only (shown, never applied): `predict_classes` -> `argmax(predict(...), axis=-1)`
(for a sigmoid output the right form is `predict(...) > 0.5`, which only the model tells),
and `K.set_session(...)`, which has no Keras 3 counterpart (configure TensorFlow with
`tf.config`). Everything else has no fix.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import (
    KERAS3_IMPORTS,
    Context,
    Edit,
    Fix,
    Hit,
    Rule,
    call_arg,
    cst,
    dotted_name,
    keras_path,
    literal_string,
)

# Keras 3.15's keras.backend, and the Keras 2 names tf.keras.backend lacks too (K1).
K3_BACKEND = frozenset({
    "backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format", "is_float_dtype",
    "is_int_dtype", "is_keras_tensor", "result_type", "set_epsilon", "set_floatx", "set_image_data_format",
    "standardize_dtype",
})
TF_KERAS_BACKEND_MISSING = frozenset({
    "experimental", "function", "in_test_phase", "in_train_phase", "learning_phase", "learning_phase_scope",
    "local_conv1d", "local_conv2d", "manual_variable_initialization", "normalize_batch_in_training",
    "placeholder", "print_tensor", "random_binomial", "reset_uids", "set_learning_phase",
    "set_session", "get_session",  # N3.1
})
# K.<fn> -> keras.ops.<fn>: same parameters, same values, dtypes and kinds (K1).
OPS_TWINS = frozenset({
    "abs", "all", "any", "binary_crossentropy", "cast", "categorical_crossentropy", "cos", "dtype", "elu",
    "exp", "log", "max", "min", "ndim", "prod", "round", "sigmoid", "sign", "sin", "softmax", "softplus",
    "softsign", "square", "squeeze", "stack", "std", "sum", "tanh", "transpose", "var",
})
# Keras 2's keras.layers.merge names, all in Keras 3's keras.layers (K3).
MERGE_NAMES = frozenset({
    "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
})
M7 = ("ImportError: `keras.optimizers.legacy` is not supported in Keras 3")
# Written paths below the Keras root that Keras 3 lacks: prefix -> (error, what to use instead).
REMOVED = {
    "layers.merge": ("AttributeError: module 'keras.layers' has no attribute 'merge'",
                     "import the merge layers from `keras.layers` (`keras.layers.concatenate`)"),
    "layers.Merge": ("AttributeError: module 'keras.layers' has no attribute 'Merge'",
                     "use `keras.layers.Concatenate`, `Add`, ... (Keras 1's Merge is gone)"),
    "layers.experimental": ("AttributeError: module 'keras.layers' has no attribute 'experimental'",
                            "the preprocessing layers are in `keras.layers` itself (`keras.layers.Rescaling`)"),
    "layers.CuDNNLSTM": ("AttributeError: module 'keras.layers' has no attribute 'CuDNNLSTM'",
                         "use `keras.layers.LSTM`, which runs on cuDNN by itself"),
    "layers.CuDNNGRU": ("AttributeError: module 'keras.layers' has no attribute 'CuDNNGRU'",
                        "use `keras.layers.GRU`, which runs on cuDNN by itself"),
    "utils.multi_gpu_model": ("AttributeError: module 'keras.utils' has no attribute 'multi_gpu_model'",
                              "use `tf.distribute.MirroredStrategy`"),
    "utils.np_utils": ("AttributeError: module 'keras.utils' has no attribute 'np_utils'",
                       "use `keras.utils.to_categorical`"),
    "wrappers.scikit_learn": ("AttributeError: module 'keras.wrappers' has no attribute 'scikit_learn'",
                              "use the scikeras package or `keras.wrappers.SKLearnClassifier`"),
    "optimizers.legacy": (M7, "use the optimizers in `keras.optimizers`"),
}
KERAS_ONLY = {  # removed from `keras`, kept in the `tf.keras` legacy copy (N3.2)
    "preprocessing.image.ImageDataGenerator": (
        "AttributeError: module 'keras.preprocessing.image' has no attribute 'ImageDataGenerator'",
        "use `keras.utils.image_dataset_from_directory` with preprocessing layers "
        "(or `tf.keras.preprocessing.image.ImageDataGenerator`, kept in tf.keras)"),
}
SESSION = frozenset({"set_session", "get_session"})
GENERATOR_METHODS = {"fit_generator": "fit", "evaluate_generator": "evaluate", "predict_generator": "predict"}
# What each *_generator's positional arguments after the generator were (the prefix every
# Keras 2 version agrees on), and the keywords the Keras 3 method takes for a generator (K4).
POSITIONAL = {"fit_generator": ("steps_per_epoch", "epochs", "verbose", "callbacks", "validation_data",
                                "validation_steps"),
              "evaluate_generator": ("steps",), "predict_generator": ("steps",)}
ACCEPTED = {"fit_generator": frozenset({"steps_per_epoch", "epochs", "verbose", "callbacks", "validation_data",
                                        "validation_steps", "validation_freq", "shuffle", "initial_epoch"}),
            "evaluate_generator": frozenset({"steps", "callbacks", "verbose"}),
            "predict_generator": frozenset({"steps", "callbacks", "verbose"})}
GONE_KWARGS = ("workers", "use_multiprocessing", "max_queue_size", "nb_epoch")
REGULARIZERS = {"keras.regularizers.l1": "l1", "keras.regularizers.l2": "l2",
                "keras.regularizers.L1": "l1", "keras.regularizers.L2": "l2"}
SAVE_FUNCTIONS = frozenset({"keras.models.save_model", "keras.saving.save_model"})
RECEIVERS = frozenset({"model", "unknown", "self", "union"})  # what a Keras model method may be called on
RULE = Rule(
    "KC008", "keras3-removed-api",
    "{what} was removed in Keras 3 ({error}): {instead}",
    severity="error",
    # A word of a removed API, and an import of Keras 3's public API (`tf_keras` alone is Keras 2).
    needs=tuple((word, *spelling) for word in (
        b"_generator", b"predict_classes", b"predict_proba", b"lr=", b".lr", b"workers", b"use_multiprocessing",
        b"max_queue_size", b"nb_epoch", b"save", b"l=", b"backend", b"merge", b"Merge", b"experimental",
        b"CuDNN", b"multi_gpu_model", b"np_utils", b"scikit_learn", b"ImageDataGenerator", b".legacy",
    ) for spelling in KERAS3_IMPORTS),
    # The public API only: Keras's own `keras.src` modules still have all of it (INTERNAL).
    anchors=("keras.backend.*@api", "keras.optimizers.*@api", "keras.regularizers.*@api",
             "keras.layers.merge.*@api", "keras.layers.Merge@api", "keras.layers.experimental.*@api",
             "keras.layers.CuDNNLSTM@api", "keras.layers.CuDNNGRU@api", "keras.utils.multi_gpu_model@api",
             "keras.utils.np_utils.*@api", "keras.wrappers.*@api", "keras.preprocessing.*@api",
             "keras.models.save_model@api", "keras.saving.save_model@api", ".fit_generator", ".evaluate_generator", ".predict_generator",
             ".predict_classes", ".predict_proba", "=workers", "=use_multiprocessing", "=max_queue_size",
             "=nb_epoch", ".save", ".save_weights", "=.lr"),
)

VALID = [
    # Keras 2 code: tf_keras still has all of it.
    "import tf_keras as keras\nmodel = keras.Sequential()\nmodel.fit_generator(gen, steps_per_epoch=10)\n",
    # tf.keras.backend is Keras 3's legacy copy: sum is there.
    "import tensorflow as tf\nK = tf.keras.backend\ny = K.sum(x, axis=-1)\n",
    "import keras\nmodel = keras.Sequential([keras.layers.Convolution2D(8, 3)])\nmodel.train_on_batch(x, y)\n",
    "import tensorflow as tf\ngen = tf.keras.preprocessing.image.ImageDataGenerator(rescale=1 / 255)\n",
    "import keras\nopt = keras.optimizers.Adam(learning_rate=1e-3)\nmodel.save_weights('w.weights.h5')\n",
    # Not a Keras object's `lr`.
    "import keras\nimport argparse\nargs = argparse.ArgumentParser().parse_args()\nprint(args.lr)\n",
]
INVALID = [
    "import keras\nmodel = keras.Sequential()\nmodel.fit_generator(gen, steps_per_epoch=10)  # expect: KC008\n",
    "from keras import backend as K\ny = K.sum(x, axis=-1)  # expect: KC008\n",
    "import tensorflow as tf\nopt = tf.keras.optimizers.SGD(lr=0.01)  # expect: KC008\n",
    "from keras.layers.merge import concatenate  # expect: KC008\n",
]


def _keras3(ctx: Context, flavor: str | None) -> bool:
    return ctx.keras_major(flavor) == "3"


INTERNAL = ("keras.src", "tf_keras.src")  # Keras's own modules: `keras.src.backend` has all of it


def _public(raw: str) -> tuple[str, str] | None:
    """(flavor, path below the root) for a path through Keras's public API, else None."""
    if any(raw == root or raw.startswith(root + ".") for root in INTERNAL):
        return None
    return keras_path(raw)


def _removed(flavor: str, rest: str) -> tuple[str, str, str] | None:
    """(the removed path as written, error, instead) when `rest` (a path below the Keras root)
    names something Keras 3 lacks."""
    parts = rest.split(".")
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        if prefix in REMOVED:
            return (prefix, *REMOVED[prefix])
        if flavor == "keras" and prefix in KERAS_ONLY:
            return (prefix, *KERAS_ONLY[prefix])
    if len(parts) >= 2 and parts[0] == "backend" and not parts[1].startswith("_"):
        name = parts[1]
        if flavor == "keras" and name not in K3_BACKEND:
            return (f"backend.{name}", f"AttributeError: module 'keras.backend' has no attribute '{name}'",
                    _backend_instead(name))
        if flavor == "tf.keras" and name in TF_KERAS_BACKEND_MISSING:
            return (f"backend.{name}", f"AttributeError: module 'keras._tf_keras.keras.backend' has no "
                    f"attribute '{name}'", _backend_instead(name))
    return None


def _backend_instead(name: str) -> str:
    if name in SESSION:
        return "Keras 3 has no session; configure TensorFlow with `tf.config`"
    if name in ("learning_phase", "set_learning_phase", "in_train_phase", "in_test_phase"):
        return "pass `training=` to the layer or model call instead of a global learning phase"
    if name in OPS_TWINS:
        return f"use `keras.ops.{name}`, which takes the same arguments"
    return "use the `keras.ops` counterpart"


def _label(flavor: str, path: str) -> str:
    return f"`{'tf.keras' if flavor == 'tf.keras' else 'keras'}.{path}`"


def check(ctx: Context) -> Iterator[Hit]:
    if not _keras3(ctx, None) and ctx.keras_major("tf.keras") != "3":
        return
    for hit in (*_imports(ctx), *_uses(ctx), *_methods(ctx), *_calls(ctx), *_lr_reads(ctx)):
        if not _guarded(ctx, hit.node):
            yield hit


CAUGHT = frozenset({"AttributeError", "ImportError", "ModuleNotFoundError", "TypeError", "ValueError", "Exception",
                    "BaseException"})


def _guarded(ctx: Context, node) -> bool:
    """Code that expects the failure: where a `try` catches it (or anything) or a test asserts
    it (`with self.assertRaises(...)` / `pytest.raises(...)`), or under `if hasattr(x, "name")`
    for the name that is gone (Keras 2 / 3 code)."""
    if ctx.expected_errors(node) & CAUGHT:
        return True
    name = node.attr.value if isinstance(node, cst.Attribute) else None
    if name is None:
        return False
    for test in ctx.conditions(node):
        if isinstance(test, (cst.Try, cst.TryStar)):
            continue
        for call in ctx.walk(test):
            if (isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and call.func.value == "hasattr"
                    and len(call.args) == 2 and literal_string(call.args[1].value) == name):
                return True
    return False


# ------------------------------------------------------------------ imports and names


def _imports(ctx: Context) -> Iterator[Hit]:
    done: set[int] = set()
    for record in ctx.import_records():
        statement = record.statement
        if isinstance(statement, cst.ImportFrom):  # `from keras.layers.merge import ...`: once, at the module
            module = _public(dotted_name(statement.module))
            if module is not None and _keras3(ctx, module[0]) and (removed := _removed(*module)) is not None:
                if id(statement) not in done:
                    done.add(id(statement))
                    path, error, instead = removed
                    fix = _merge_import_fix(ctx, statement) if path == "layers.merge" else None
                    yield Hit(statement.module, fmt={"what": _label(module[0], path), "error": error,
                                                     "instead": instead}, fix=fix)
                continue
        found = _public(record.path)
        if found is None or not _keras3(ctx, found[0]):
            continue
        removed = _removed(*found)
        if removed is not None:
            path, error, instead = removed
            yield Hit(record.node, fmt={"what": _label(found[0], path), "error": error, "instead": instead})


def _merge_import_fix(ctx: Context, statement: cst.ImportFrom) -> Fix | None:
    """`from keras.layers.merge import concatenate, Add` -> `from keras.layers import ...`."""
    module = statement.module
    if isinstance(statement.names, cst.ImportStar) or not isinstance(module, cst.Attribute):
        return None
    if module.attr.value != "merge" or not all(
            isinstance(a.name, cst.Name) and a.name.value in MERGE_NAMES for a in statement.names):
        return None
    return Fix.replace(module, ctx.code(module.value),
                       f"Import from `{ctx.code(module.value)}`: the merge layers live there in Keras 3")


def _uses(ctx: Context) -> Iterator[Hit]:
    """Calls and layer constructions through a removed path (`keras.layers.merge.concatenate(...)`,
    `K.sum(...)`); a name bound by an import is reported at its import only."""
    seen: set[int] = set()
    nodes = [e.node for e in ctx.picture.calls] + [layer.node for layer in ctx.picture.layers]
    for call in nodes:
        if id(call) in seen or not isinstance(call.func, (cst.Name, cst.Attribute)):
            continue
        seen.add(id(call))
        spelled = ctx.spelled(call.func, call)
        if not spelled:
            continue
        hits = set()
        for raw in spelled:
            found = _public(raw)
            if found is None or not _keras3(ctx, found[0]):
                hits.add(None)
                continue
            hits.add((found[0], _removed(*found)))
        if len(hits) != 1 or None in hits:
            continue
        flavor, removed = hits.pop()
        if removed is None:
            continue
        path, error, instead = removed
        head = _head(call.func)
        head_paths = ctx.spelled(head, call) or frozenset()
        if any((kp := _public(h)) is not None and _removed(*kp) is not None for h in head_paths):
            continue  # the import that binds the head is reported
        fix = None
        if path == "layers.merge":
            fix = _merge_use_fix(ctx, call.func)
        elif path.startswith("backend."):
            fix = _backend_fix(ctx, call, path.split(".", 1)[1], flavor)
        yield Hit(call.func, fmt={"what": _label(flavor, path), "error": error, "instead": instead}, fix=fix)


def _head(expr):
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return expr


def _merge_use_fix(ctx: Context, func) -> Fix | None:
    """`keras.layers.merge.concatenate` -> `keras.layers.concatenate`."""
    if not (isinstance(func, cst.Attribute) and func.attr.value in MERGE_NAMES
            and isinstance(func.value, cst.Attribute) and func.value.attr.value == "merge"):
        return None
    outer = func.value
    return Fix.replace(outer, ctx.code(outer.value),
                       f"Use `{ctx.code(outer.value)}.{func.attr.value}`: the merge layers live there in Keras 3")


def _backend_fix(ctx: Context, call: cst.Call, name: str, flavor: str) -> Fix | None:
    if name in SESSION and flavor in ("keras", "tf.keras"):
        stmt = ctx.parent(call)
        if isinstance(stmt, cst.Expr):
            return Fix((Edit(call, "None  # Keras 3 has no session: configure TensorFlow with tf.config"),),
                       "display", "Remove the call: Keras 3 has no session (configure TensorFlow with `tf.config`)")
        return None
    if name not in OPS_TWINS or flavor != "keras":
        return None
    spelling = ctx.spelling("keras.ops", call)
    if spelling is None:
        return None
    ops, edits = spelling
    return Fix((Edit(call.func, f"{ops}.{name}"), *edits), "safe",
               f"Use `keras.ops.{name}`, which takes the same arguments")


# ------------------------------------------------------------------ model methods


def _receiver_ok(event) -> bool:
    return all(alt.kind in RECEIVERS for alt in event.receiver.alternatives())


def _methods(ctx: Context) -> Iterator[Hit]:
    if not _keras3(ctx, None):
        return
    defined = {fn.name.value for fn in ctx.picture.function_defs()}
    seen: set[int] = set()
    for event in ctx.picture.methods:
        name, call = event.name, event.node
        if id(call) in seen or name in defined or not _receiver_ok(event):
            continue
        seen.add(id(call))
        if name in GENERATOR_METHODS:
            model = _receiver_label(event)
            yield Hit(call.func, fmt={
                "what": f"`{name}`",
                "error": f"AttributeError: '{model}' object has no attribute '{name}'",
                "instead": f"`{GENERATOR_METHODS[name]}` takes generators and Sequences"},
                fix=_generator_fix(ctx, call, name))
        elif name in ("predict_classes", "predict_proba"):
            instead = ("use `argmax(model.predict(x), axis=-1)` (softmax output) or `model.predict(x) > 0.5` "
                       "(sigmoid output)" if name == "predict_classes" else "use `model.predict`")
            yield Hit(call.func, fmt={"what": f"`{name}`", "error": f"AttributeError: '{_receiver_label(event)}' "
                                      f"object has no attribute '{name}'", "instead": instead},
                      fix=_predict_classes_fix(ctx, call) if name == "predict_classes" else None)
        elif name in ("fit", "evaluate", "predict"):
            gone = [a for a in call.args if a.keyword is not None and a.keyword.value in GONE_KWARGS
                    and (a.keyword.value != "nb_epoch" or name == "fit")]
            if gone:
                words = ", ".join(f"{a.keyword.value}=" for a in gone)
                advice = []
                if any(a.keyword.value == "nb_epoch" for a in gone):
                    advice.append("pass `epochs=`")
                if any(a.keyword.value != "nb_epoch" for a in gone):
                    advice.append("pass `workers=` and `use_multiprocessing=` to a `keras.utils.PyDataset` instead")
                yield Hit(gone[0].keyword, message=(
                    f"`{name}({words})`: Keras 3's `{name}` has no such argument (TypeError: "
                    f"TensorFlowTrainer.{name}() got an unexpected keyword argument '{gone[0].keyword.value}'): "
                    + "; ".join(advice)), fix=_nb_epoch_fix(call, gone))
        elif name == "save_weights":
            path = _literal_path(ctx, call, "filepath")
            if path is not None and not path[1].endswith(".weights.h5"):
                node, text = path
                yield Hit(node, message=(
                    f"Keras 3's `save_weights` writes only `*.weights.h5` files (ValueError: The filename must "
                    f"end in `.weights.h5`. Received: filepath={text}): name the file `*.weights.h5`"),
                    fix=_weights_name_fix(ctx, node, text))
        elif name == "save" and _is_model(event):
            path = _literal_path(ctx, call, "filepath")
            if path is not None and not path[1].endswith((".keras", ".h5")):
                node, text = path
                yield _save_hit(node, text)


def _receiver_label(event) -> str:
    """The class Keras 3's message names: Sequential, Functional, or (not known) Model."""
    names = {alt.canon.name if alt.kind == "model" and alt.canon is not None else None
             for alt in event.receiver.alternatives()}
    if names == {"keras.Sequential"}:
        return "Sequential"
    if names <= {"keras.Model", "keras.Functional"} and names:
        return "Functional"
    return "Model"


def _is_model(event) -> bool:
    return any(alt.kind == "model" for alt in event.receiver.alternatives())


def _save_hit(node, text: str) -> Hit:
    return Hit(node, message=(
        f"Keras 3 saves a model only to `*.keras` or `*.h5`, not to `{text}` (ValueError: Invalid filepath "
        "extension for saving. Please add either a `.keras` extension for the native Keras format (recommended) "
        "or a `.h5` extension): save to `*.keras`, or export a SavedModel with `model.export(path)`"))


def _literal_path(ctx: Context, call: cst.Call, keyword: str, position: int = 0):
    """The path argument when its text is known: (the literal node, its value)."""
    expr = call_arg(call, keyword, position)
    text = literal_string(expr)
    if text is not None:
        return expr, text
    return None


def _generator_fix(ctx: Context, call: cst.Call, name: str) -> Fix | None:
    """`fit_generator(gen, 100, 5, callbacks=cb)` -> `fit(gen, steps_per_epoch=100, epochs=5, callbacks=cb)`."""
    if any(a.star for a in call.args):
        return None
    positional = [a for a in call.args if a.keyword is None]
    keywords = [a for a in call.args if a.keyword is not None]
    names = POSITIONAL[name]
    if not positional and not any(a.keyword.value == "generator" for a in keywords):
        return None
    if len(positional) - 1 > len(names):
        return None
    given = {a.keyword.value for a in keywords} | set(names[: max(0, len(positional) - 1)])
    given.discard("generator")
    if not given <= ACCEPTED[name]:
        return None
    edits = [Edit(call.func.attr, GENERATOR_METHODS[name])]
    for arg, keyword in zip(positional[1:], names):
        edits.append(Edit(arg, f"{keyword}=", at="before"))
    for arg in keywords:
        if arg.keyword.value == "generator":
            edits.append(Edit(arg.keyword, "x"))
    if name in ("evaluate_generator", "predict_generator") and "verbose" not in given:
        edits.append(Edit(call.args[-1], ", verbose=0", at="after"))
    new = GENERATOR_METHODS[name]
    safety = "unsafe" if name == "predict_generator" else "safe"
    message = f"Call `{new}`, which takes the same generator" + (
        " (a Python generator must yield tuples: `(x,)`)" if safety == "unsafe" else "")
    return Fix(tuple(edits), safety, message)


def _predict_classes_fix(ctx: Context, call: cst.Call) -> Fix | None:
    if not isinstance(call.func, cst.Attribute) or any(a.star for a in call.args):
        return None
    spelling = ctx.spelling("numpy.argmax", call) or ctx.spelling("keras.ops.argmax", call)
    if spelling is None:
        return None
    argmax, imports = spelling
    receiver = ctx.code(call.func.value)
    args = ", ".join(ctx.code(a.with_changes(comma=cst.MaybeSentinel.DEFAULT)) for a in call.args)
    return Fix((Edit(call, f"{argmax}({receiver}.predict({args}), axis=-1)"), *imports), "display",
               "For a softmax output: the arg max of `predict`; for a sigmoid output use "
               "`(model.predict(x) > 0.5).astype('int32')`")


def _nb_epoch_fix(call: cst.Call, gone) -> Fix | None:
    if len(gone) != 1 or gone[0].keyword.value != "nb_epoch" or call_arg(call, "epochs", None) is not None:
        return None
    return Fix.replace(gone[0].keyword, "epochs", "Pass `epochs=`, Keras 1's `nb_epoch`")


def _weights_name_fix(ctx: Context, node: cst.BaseExpression, text: str) -> Fix | None:
    if not isinstance(node, cst.SimpleString) or node.prefix.lower() not in ("", "r", "u"):
        return None
    quote = node.quote
    body = node.value[len(node.prefix) + len(quote): len(node.value) - len(quote)]
    for old in (".hdf5", ".h5"):
        if body.endswith(old):
            new = body[: -len(old)] + ".weights.h5"
            break
    else:
        new = body + ".weights.h5"
    return Fix.replace(node, f"{node.prefix}{quote}{new}{quote}", f"Save to `{new}`: Keras 3 names weight files "
                       "`*.weights.h5` (code that loads the old name must follow)", applicability="unsafe")


# ------------------------------------------------------------------ calls


def _calls(ctx: Context) -> Iterator[Hit]:
    seen: set[int] = set()
    for event in ctx.picture.calls:
        canon, call = event.canon, event.node
        if id(call) in seen or not _keras3(ctx, canon.flavor):
            continue
        seen.add(id(call))
        name = canon.name
        if name.startswith("keras.optimizers.") and canon.short[:1].isupper() and "schedules" not in name:
            spelled = ctx.spelled(call.func, call) or frozenset()
            if any(".optimizers.legacy" in s for s in spelled):
                continue  # reported as the removed namespace
            lr = next((a for a in call.args if a.keyword is not None and a.keyword.value == "lr"), None)
            if lr is not None:
                fix = None
                if call_arg(call, "learning_rate", None) is None:
                    fix = Fix.replace(lr.keyword, "learning_rate", "Pass `learning_rate=`")
                yield Hit(lr.keyword, fmt={"what": f"`{canon.name}(lr=...)`",
                                           "error": f"ValueError: Argument(s) not recognized: "
                                                    f"{{'lr': {ctx.code(lr.value)}}}",
                                           "instead": "pass `learning_rate=`"}, fix=fix)
        elif name in REGULARIZERS:
            arg = next((a for a in call.args if a.keyword is not None and a.keyword.value == "l"), None)
            if arg is not None:
                keyword = REGULARIZERS[name]
                fix = None
                if call_arg(call, keyword, None) is None:
                    fix = Fix.replace(arg.keyword, keyword, f"Pass `{keyword}=`")
                yield Hit(arg.keyword, fmt={"what": f"`{canon.name}(l=...)`",
                                            "error": f"TypeError: {canon.short.upper()}.__init__() got an "
                                                     "unexpected keyword argument 'l'",
                                            "instead": f"pass `{keyword}=` (or the value alone)"}, fix=fix)
        elif name in SAVE_FUNCTIONS:
            path = _literal_path(ctx, call, "filepath", 1)
            if path is not None and not path[1].endswith((".keras", ".h5")):
                yield _save_hit(*path)


def _lr_reads(ctx: Context) -> Iterator[Hit]:
    """`model.optimizer.lr`, `opt.lr` (opt a Keras 3 optimizer): AttributeError. An assignment
    to it raises nothing and is ignored: KC023's."""
    if not _keras3(ctx, None):
        return
    for attr in ctx.attributes("lr"):
        if _stored(ctx, attr) or not ctx.keras_optimizer(attr.value):
            continue
        yield Hit(attr, fmt={"what": "`optimizer.lr`",
                             "error": "AttributeError: 'Adam' object has no attribute 'lr'",
                             "instead": "read `optimizer.learning_rate`"})


def _stored(ctx: Context, attr: cst.Attribute) -> bool:
    parent = ctx.parent(attr)
    return (isinstance(parent, cst.AssignTarget) and parent.target is attr) or (
        isinstance(parent, (cst.AugAssign, cst.AnnAssign)) and parent.target is attr)
