"""Measurements behind KC008 (keras3-removed-api) and KC023 (deprecated-keras-argument) and their fixes.

K1  Which Keras 2 backend functions (`tf_keras.backend`, what `from keras import backend as K`
    was in Keras 2) are missing from Keras 3's `keras.backend` and from `tf.keras.backend`, and
    which of them `keras.ops` has with a compatible signature (each K parameter at the same place
    with the same name and kind, and the same default where K has one; any further keras.ops
    parameter has a default: every valid K call is a valid keras.ops call binding the same
    parameters), checked with `inspect.signature`. Then each compatible pair is run on the same
    inputs (float32 with negatives, zeros and halves; int32 where K takes it; a bool for
    all/any): the fix `K.f` -> `keras.ops.f` is offered only where every output agrees in value,
    dtype and kind (tensor vs tuple).
K2  The optimizers' default learning rates in Keras 3 (what `decay=`'s fix needs when no rate is given),
    and whether `opt.lr = 0.5` raises or is silently ignored.
K3  `keras.regularizers` signatures (`l=` -> `l1=`/`l2=`), the merge functions and classes in
    `keras.layers`, CuDNNGRU, `tf.keras.backend.set_learning_phase`, `keras.models.save_model(m, 'dir')`.
K4  The fixed forms run: fit/evaluate/predict on a generator with the generator arguments
    Keras 2's *_generator took (steps_per_epoch, validation_data=generator, validation_steps, ...),
    InverseTimeDecay reproducing the legacy `decay=` (lr / (1 + decay * t)).

Run: python tests/measurements/kc008_keras3_upgrade.py   (Keras 3, TensorFlow backend, ~20 s)
"""
import inspect
import logging
import os
import tempfile
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
import tf_keras  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
warnings.simplefilter("ignore")


def public(module) -> set[str]:
    return {n for n in dir(module) if not n.startswith("_")}


def compatible(k: inspect.Signature, o: inspect.Signature) -> bool:
    pk, po = list(k.parameters.values()), list(o.parameters.values())
    if len(po) < len(pk):
        return False
    for a, b in zip(pk, po):
        if a.name != b.name or a.kind != b.kind:
            return False
        if a.default is not inspect.Parameter.empty and a.default != b.default:
            return False
    return all(b.default is not inspect.Parameter.empty or b.kind in (b.VAR_POSITIONAL, b.VAR_KEYWORD)
               for b in po[len(pk):])


F = np.array([[-1.5, 0.0, 2.0], [3.0, -0.5, 0.5]], dtype="float32")
I = np.array([[-3, 0, 2], [5, -1, 1]], dtype="int32")
B = np.array([[True, False, True], [True, True, True]])
P = np.array([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]], dtype="float32")  # probabilities
U = np.array([[0.4, 0.6, 1.0], [2.0, 0.1, 0.1]], dtype="float32")  # not normalised
T = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype="float32")  # targets
CASES = {  # name -> argument tuples (keyword dicts as the last item where needed)
    "unary": [(F,), (I,)],
    "reduce": [(F,), (F, 1), (F, 0, True), (I,), (I, 1)],
    "bool_reduce": [(B,), (B, 1), (F,), (F, 0, True)],
    "cast": [(F, "int32"), (I, "float32"), (F, "bool")],
    "softmax": [(F,), (F, 0)],
    "elu": [(F,), (F, 0.5)],
    "stack": [([F, F],), ([F, F], 1)],
    "squeeze": [(F[None], 0), (F[:, :1], 1)],
    "transpose": [(F,), (I,)],
    "round": [(np.array([0.5, 1.5, 2.5, -0.5, 0.4], dtype="float32"),)],
    "bce": [(T, P), (T, F, True), (T, U)],
    "cce": [(T, P), (T, U), (T, F, True), (T.T, P.T, False, 0)],
}
KIND = {
    "abs": "unary", "cos": "unary", "exp": "unary", "log": "unary", "sigmoid": "unary", "sign": "unary",
    "sin": "unary", "softplus": "unary", "softsign": "unary", "sqrt": "unary", "square": "unary",
    "tanh": "unary", "hard_sigmoid": "unary", "ndim": "unary", "dtype": "unary", "shape": "unary",
    "sum": "reduce", "mean": "reduce", "max": "reduce", "min": "reduce", "prod": "reduce", "std": "reduce",
    "var": "reduce", "all": "bool_reduce", "any": "bool_reduce", "cast": "cast", "softmax": "softmax",
    "elu": "elu", "stack": "stack", "squeeze": "squeeze", "transpose": "transpose", "round": "round",
    "binary_crossentropy": "bce", "categorical_crossentropy": "cce",
}


def value(out):
    if isinstance(out, tf.TensorShape):
        return ("TensorShape", tuple(out))
    if isinstance(out, (tuple, list)):
        return ("tuple", tuple(out))
    if isinstance(out, str):
        return ("str", out)
    if isinstance(out, (int, np.integer)) and not hasattr(out, "shape"):
        return ("int", int(out))
    arr = np.asarray(out)
    # + 0.0: -0.0 and 0.0 are the same number
    return ("tensor", str(arr.dtype), arr.shape, (np.round(arr.astype("float64"), 5) + 0.0).tolist())


def tensors(args):
    """The arguments as TensorFlow tensors (what K functions are written for; keras.ops takes them too)."""
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(tf.constant(a))
        elif isinstance(a, list):
            out.append([tf.constant(x) for x in a])
        else:
            out.append(a)
    return tuple(out)


def same(name: str) -> tuple[bool, str]:
    for args in CASES[KIND[name]]:
        results = []
        for module in (tf_keras.backend, keras.ops):
            try:
                results.append(value(getattr(module, name)(*tensors(args))))
            except Exception as exc:  # noqa: BLE001
                results.append(("raises", type(exc).__name__))
        if results[0][0] == "raises":
            continue  # not a call K takes (an int where it wants floats): no working code makes it
        if str(results[0]) != str(results[1]):
            shown = [str(r)[:70] for r in results]
            return False, f"differs on {_describe(args)}: K {shown[0]} vs ops {shown[1]}"
    return True, "same values, dtypes and kinds on every input"


def _describe(args) -> str:
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            parts.append(f"{a.dtype}{list(a.shape)}")
        elif isinstance(a, list):
            parts.append(f"[{len(a)} arrays]")
        else:
            parts.append(repr(a))
    return "(" + ", ".join(parts) + ")"


print("K1 Keras 2 backend functions in Keras 3")
k2, k3, tfk, ops = public(tf_keras.backend), public(keras.backend), public(tf.keras.backend), public(keras.ops)
print(f"  keras.backend (Keras 3) public names ({len(k3)}): {', '.join(sorted(k3))}")
print(f"  tf_keras.backend has {len(k2)} public names; missing from keras.backend: {len(k2 - k3)}; "
      f"missing from tf.keras.backend too: {len(k2 - tfk)}")
print(f"  missing from tf.keras.backend (Keras 3's legacy copy): {', '.join(sorted(k2 - tfk))}")
fixable = []
for name in sorted((k2 - k3) & ops):
    ks = inspect.signature(getattr(tf_keras.backend, name))
    os_ = inspect.signature(getattr(keras.ops, name))
    if not compatible(ks, os_):
        print(f"  {name:<26} not compatible: K{ks} vs ops{os_}")
        continue
    equal = "equal" if ks == os_ else "compatible"
    if name not in KIND:
        print(f"  {name:<26} signature {equal}, not run: no fix")
        continue
    ok, why = same(name)
    print(f"  {name:<26} signature {equal}; {why}{'  -> FIX' if ok else ''}")
    if ok:
        fixable.append(name)
print(f"  safe K.f -> keras.ops.f ({len(fixable)}): {', '.join(fixable)}")

print("K2 optimizers")
for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "Lion"):
    cls = getattr(keras.optimizers, name)
    print(f"  keras.optimizers.{name:<9} learning_rate default "
          f"{inspect.signature(cls.__init__).parameters['learning_rate'].default}")
opt = keras.optimizers.Adam(0.01)
try:
    opt.lr = 0.5
    print(f"  opt.lr = 0.5 on Keras 3 Adam: no error; learning_rate stays {float(opt.learning_rate):.3f}")
except Exception as exc:  # noqa: BLE001
    print(f"  opt.lr = 0.5 on Keras 3 Adam: {type(exc).__name__}: {exc}")

print("K3 names")
for reg in ("l1", "l2", "L1", "L2", "l1_l2"):
    print(f"  keras.regularizers.{reg}{inspect.signature(getattr(keras.regularizers, reg))}")
for name in ("add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
             "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot"):
    print(f"  keras.layers.{name:<12} {'present' if hasattr(keras.layers, name) else 'MISSING'};"
          f" Keras 2 merge.{name} {'present' if hasattr(tf_keras.layers, name) else 'missing'}")
print(f"  keras.layers.CuDNNGRU present: {hasattr(keras.layers, 'CuDNNGRU')}")
print(f"  tf.keras.backend.set_learning_phase present: {hasattr(tf.keras.backend, 'set_learning_phase')}")
print(f"  tf.keras.backend.get_session present: {hasattr(tf.keras.backend, 'get_session')}")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
for label, call in (("keras.models.save_model(m, 'dir')",
                     lambda d: keras.models.save_model(model, os.path.join(d, "dir"))),
                    ("keras.saving.save_model(m, 'dir')",
                     lambda d: keras.saving.save_model(model, os.path.join(d, "dir")))):
    with tempfile.TemporaryDirectory() as d:
        try:
            call(d)
            print(f"  {label}: OK")
        except Exception as exc:  # noqa: BLE001
            print(f"  {label}: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}")

print("K4 the fixed forms run")
X = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
Y = (X[:, :1] > 0).astype("float32")


def gen():
    while True:
        yield X[:16], Y[:16]


def xgen():
    while True:
        yield X[:16]


model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
model.compile(keras.optimizers.SGD(learning_rate=0.1), "binary_crossentropy")
# Each argument Keras 2's fit_generator / evaluate_generator / predict_generator took, on its own.
FIT = {"steps_per_epoch": 2, "epochs": 2, "verbose": 0, "callbacks": [], "validation_data": gen(),
       "validation_steps": 1, "validation_freq": 1, "class_weight": {0: 1.0, 1: 1.0}, "max_queue_size": 10,
       "workers": 1, "use_multiprocessing": False, "shuffle": True, "initial_epoch": 0}
for key, val in FIT.items():
    kwargs = {"steps_per_epoch": 2, "verbose": 0}
    kwargs[key] = val
    if key == "validation_data":
        kwargs["validation_steps"] = 1
    if key == "initial_epoch":
        kwargs["epochs"] = 1
    try:
        model.fit(gen(), **kwargs)
        print(f"  fit(generator, {key}=...): OK")
    except Exception as exc:  # noqa: BLE001
        print(f"  fit(generator, {key}=...): {type(exc).__name__}: {str(exc).splitlines()[0][:80]}")
for method, g, keys in (("evaluate", gen, {"steps": 2, "callbacks": [], "verbose": 0, "max_queue_size": 10,
                                           "workers": 1, "use_multiprocessing": False}),
                        ("predict", xgen, {"steps": 2, "callbacks": [], "verbose": 0, "max_queue_size": 10,
                                           "workers": 1, "use_multiprocessing": False})):
    for key, val in keys.items():
        kwargs = {"steps": 2, "verbose": 0}
        kwargs[key] = val
        try:
            getattr(model, method)(g(), **kwargs)
            print(f"  {method}(generator, {key}=...): OK")
        except Exception as exc:  # noqa: BLE001
            print(f"  {method}(generator, {key}=...): {type(exc).__name__}: {str(exc).splitlines()[0][:80]}")
schedule = keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)
opt = keras.optimizers.SGD(learning_rate=schedule)
v = keras.Variable(1.0)
for _ in range(5):
    opt.apply([tf.constant(1.0)], [v])
print(f"  SGD(learning_rate=InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)), 5 steps of grad 1: "
      f"w = {float(v.numpy()):.3f} (tf_keras legacy SGD(0.1, decay=0.5): 0.710)")
