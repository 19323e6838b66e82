"""KC004 extra measurements (TF 2.21 / keras 3.15.1 / tf_keras 2.21 / NumPy 2.x)."""
import os, re, warnings, logging, inspect
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
import keras
from keras import layers
import tf_keras
tf.get_logger().setLevel(logging.ERROR); warnings.filterwarnings("ignore")

x = keras.Input((8,)); y = keras.Input((8,))
lx = tf_keras.Input((8,))
M1 = "A KerasTensor cannot be used as input to a TensorFlow function"
M2 = "A KerasTensor is symbolic"
def res(fn):
    try:
        out = fn()
        return "ok:" + type(out).__name__
    except Exception as e:
        m = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
        if M1 in m: return "M1"
        if M2 in m: return "M2"
        if "You are passing KerasTensor" in m: return "M6"
        return f"{type(e).__name__}:{m.splitlines()[0][:70] if m else ''}"

print("== E. tf.compat.v1.keras / tf.compat.v2.keras")
print("tf.compat.v1.keras.Input is keras.Input:", tf.compat.v1.keras.Input is keras.Input, tf.compat.v1.keras.layers.Dense.__module__)
print("tf.compat.v2.keras.Input is keras.Input:", tf.compat.v2.keras.Input is keras.Input)

print("== B. TF functions on a KerasTensor")
for label, fn in [
    ("tf.nest.flatten([x, y])", lambda: tf.nest.flatten([x, y])),
    ("tf.nest.map_structure(lambda t: t, [x])", lambda: tf.nest.map_structure(lambda t: t, [x])),
    ("tf.is_tensor(x)", lambda: tf.is_tensor(x)),
    ("tf.identity(x)", lambda: tf.identity(x)),
    ("tf.print(x)", lambda: tf.print(x)),
    ("tf.get_static_value(x)", lambda: tf.get_static_value(x)),
    ("tf.stop_gradient(x)", lambda: tf.stop_gradient(x)),
    ("tf.ensure_shape(x, (None, 8))", lambda: tf.ensure_shape(x, (None, 8))),
    ("tf.unstack(x, axis=1)", lambda: tf.unstack(x, axis=1)),
    ("tf.split(x, 2, axis=1)", lambda: tf.split(x, 2, axis=1)),
    ("tf.gather(x, [0], axis=1)", lambda: tf.gather(x, [0], axis=1)),
    ("tf.debugging.assert_shapes([(x, ('N', 8))])", lambda: tf.debugging.assert_shapes([(x, ("N", 8))])),
    ("tf.TensorSpec.from_tensor(x)", lambda: tf.TensorSpec.from_tensor(x)),
    ("tf.type_spec_from_value(x)", lambda: tf.type_spec_from_value(x)),
    ("tf.keras.backend.int_shape(x)", lambda: tf.keras.backend.int_shape(x)),
    ("tf.keras.backend.shape(x)", lambda: tf.keras.backend.shape(x)),
    ("tf.keras.backend.ndim(x)", lambda: tf.keras.backend.ndim(x)),
    ("tf.keras.backend.dtype(x)", lambda: tf.keras.backend.dtype(x)),
    ("tf.keras.backend.is_keras_tensor(x)", lambda: tf.keras.backend.is_keras_tensor(x)),
    ("keras.backend.int_shape(x) [Keras 3]", lambda: keras.backend.int_shape(x)),
    ("keras.backend.is_keras_tensor(x) [Keras 3]", lambda: keras.backend.is_keras_tensor(x)),
    ("keras.utils.plot_model? (skip)", lambda: None),
    ("tf.keras.utils.get_source_inputs(x)", lambda: tf.keras.utils.get_source_inputs(x)),
]:
    print(f"  {label:<48s} {res(fn)}")
print("  keras.backend has:", sorted(n for n in dir(keras.backend) if not n.startswith("_")))

print("== F. tf.keras.backend.<f>(x) (Keras 3 legacy backend), one KerasTensor argument")
K = tf.keras.backend
table = {}
for n in sorted(dir(K)):
    if n.startswith("_"): continue
    f = getattr(K, n)
    if not callable(f) or inspect.isclass(f): continue
    r = res(lambda: f(x))
    if r.startswith("TypeError:") and "argument" in r:
        r2 = res(lambda: f(x, 1))
        r = r2 if r2 in ("M1", "M2") or r2.startswith("ok") else r
    if r.startswith("TypeError:") and "argument" in r:
        r2 = res(lambda: f(x, x))
        r = r2 if r2 in ("M1", "M2") or r2.startswith("ok") else r
    table.setdefault(r if r in ("M1", "M2") or r.startswith("ok") else "other", []).append(n)
for k, v in table.items():
    print(f"  {k}: {' '.join(v)}")

print("== A. numpy.<f>(x), one KerasTensor argument (then (x, 1), (x, x), ([x, y],))")
ntable = {}
names = [n for n in dir(np) if not n.startswith("_") and callable(getattr(np, n)) and not inspect.isclass(getattr(np, n))]
for n in sorted(names):
    f = getattr(np, n)
    outcomes = [res(lambda: f(x)), res(lambda: f(x, 1)), res(lambda: f(x, x)), res(lambda: f([x, y]))]
    if any(o in ("M2", "M1") for o in outcomes):
        key = "raises M2 with some call"
    elif any(o.startswith("ok") for o in outcomes):
        key = "works"
    else:
        key = "other"
    ntable.setdefault(key, []).append(n)
for k, v in ntable.items():
    print(f"  {k} ({len(v)}): {' '.join(v)}")

print("== C. NumPy values on the left of an operator with a KerasTensor on the right")
import operator as op
lefts = {
    "np.ones(8)": np.ones(8, "float32"), "np.float32(2.0)": np.float32(2.0), "np.int64(2)": np.int64(2),
    "np.sqrt(8.0)": np.sqrt(8.0), "np.prod((2, 4))": np.prod((2, 4)), "np.pi": np.pi,
    "np.random.uniform()": np.random.uniform(), "np.random.rand()": np.random.rand(),
    "np.random.randint(3)": np.random.randint(3), "np.array(2.0)": np.array(2.0),
    "np.log(2.0)": np.log(2.0), "np.mean([1.0, 2.0])": np.mean([1.0, 2.0]),
    "np.finfo(np.float32).eps": np.finfo(np.float32).eps,
}
for label, left in lefts.items():
    row = []
    for sym, f in [("+", op.add), ("-", op.sub), ("*", op.mul), ("/", op.truediv), ("**", op.pow), ("@", op.matmul), ("//", op.floordiv), ("%", op.mod)]:
        row.append(f"{sym}:{res(lambda: f(left, x))[:6]}")
    print(f"  {label:<26s} {type(left).__name__:<9s} {' '.join(row)}")

print("== D. tf_keras (legacy) cases")
for label, fn in [
    ("np.ones(8) * tf_keras.Input", lambda: np.ones(8, "float32") * lx),
    ("np.float32(2) * tf_keras.Input", lambda: np.float32(2.0) * lx),
    ("np.sum(tf_keras.Input)", lambda: np.sum(lx)),
    ("tf_keras.Model(inputs=tf.constant)", lambda: tf_keras.Model(tf.constant(np.ones((1, 8), "float32")), tf_keras.layers.Dense(1)(lx))),
    ("tf_keras.Model(inputs=np.ones)", lambda: tf_keras.Model(np.ones((1, 8), "float32"), tf_keras.layers.Dense(1)(lx))),
    ("tf_keras.Model(inputs=keras.Input)", lambda: tf_keras.Model(x, tf_keras.layers.Dense(1)(lx))),
    ("keras.Model(inputs=tf_keras.Input, outputs=keras Dense(lx))", lambda: keras.Model(lx, layers.Dense(1)(lx))),
]:
    print(f"  {label:<48s} {res(fn)}")

print("== H. NumPy functions used as left operands: result type for numeric (non-tensor) arguments")
calls = {
  "array": ([1.0],), "asarray": ([1.0],), "ones": (3,), "zeros": (3,), "full": (3, 2.0), "empty": (3,), "eye": (3,),
  "identity": (3,), "arange": (3,), "linspace": (0, 1, 3), "ones_like": ([1.0],), "zeros_like": ([1.0],),
  "full_like": ([1.0], 2.0), "sqrt": (8.0,), "exp": (1.0,), "log": (2.0,), "log2": (2.0,), "log10": (2.0,),
  "log1p": (2.0,), "sin": (1.0,), "cos": (1.0,), "tan": (1.0,), "tanh": (1.0,), "power": (2.0, 3),
  "square": (2.0,), "abs": (-2.0,), "absolute": (-2,), "sum": ([1, 2],), "mean": ([1, 2],), "prod": ((2, 4),),
  "max": ([1, 2],), "min": ([1, 2],), "amax": ([1, 2],), "amin": ([1, 2],), "std": ([1, 2],), "var": ([1, 2],),
  "median": ([1, 2],), "maximum": (1, 2), "minimum": (1, 2), "clip": (3, 0, 1), "round": (2.5,), "floor": (2.5,),
  "ceil": (2.5,), "dot": ([1, 2], [3, 4]), "matmul": ([[1.0]], [[2.0]]), "outer": ([1], [2]),
  "concatenate": ([[1], [2]],), "stack": ([[1], [2]],), "reshape": ([1, 2], (2, 1)), "transpose": ([[1, 2]],),
  "expand_dims": ([1, 2], 0), "squeeze": ([[1, 2]],), "tile": ([1], 2), "repeat": ([1], 2), "cumsum": ([1, 2],),
  "float16": (1,), "float32": (1,), "float64": (1,), "int8": (1,), "int16": (1,), "int32": (1,), "int64": (1,),
  "uint8": (1,), "uint16": (1,), "uint32": (1,), "uint64": (1,), "bool_": (1,), "double": (1,), "single": (1,),
  "half": (1,), "intc": (1,), "longlong": (1,),
}
bad = [n for n, a in calls.items() if not isinstance(getattr(np, n)(*a), (np.ndarray, np.generic))]
print(f"  {len(calls)} functions; results that are not ndarray/np.generic: {bad or 'none'}")
print("  each of them on the left of * with a KerasTensor:", sorted({res(lambda: getattr(np, n)(*a) * x) for n, a in calls.items()}))

print("== I. more TF and NumPy calls on a KerasTensor")
img = keras.Input((4, 4, 3))
cases = [
 ("np.shape(x)", lambda: np.shape(x)), ("np.ndim(x)", lambda: np.ndim(x)), ("np.size(x)", lambda: np.size(x)),
 ("np.shape([x, y])", lambda: np.shape([x, y])), ("np.float32(x)", lambda: np.float32(x)),
 ("np.array(x)", lambda: np.array(x)), ("np.array([x, y])", lambda: np.array([x, y])),
 ("np.array([x, y], dtype=object)", lambda: np.array([x, y], dtype=object)),
 ("np.concatenate([x, y])", lambda: np.concatenate([x, y])), ("np.stack([x, y])", lambda: np.stack([x, y])),
 ("np.zeros_like(x)", lambda: np.zeros_like(x)), ("np.isscalar(x)", lambda: np.isscalar(x)),
 ("np.random.shuffle(x)", lambda: np.random.shuffle(x)), ("np.random.permutation(x)", lambda: np.random.permutation(x)),
 ("tf.size(x)", lambda: tf.size(x)), ("tf.rank(x)", lambda: tf.rank(x)),
 ("tf.Variable(x)", lambda: tf.Variable(x)), ("tf.constant(x)", lambda: tf.constant(x)),
 ("tf.TensorShape(x)", lambda: tf.TensorShape(x)), ("tf.TensorShape(x.shape)", lambda: tf.TensorShape(x.shape)),
 ("tf.summary.histogram('h', x)", lambda: tf.summary.histogram("h", x)),
 ("tf.data.Dataset.from_tensor_slices(x)", lambda: tf.data.Dataset.from_tensor_slices(x)),
 ("tf.py_function(f, [x], tf.float32)", lambda: tf.py_function(lambda t: t, [x], tf.float32)),
 ("tf.numpy_function(f, [x], tf.float32)", lambda: tf.numpy_function(lambda t: t, [x], tf.float32)),
 ("tf.debugging.check_numerics(x, 'm')", lambda: tf.debugging.check_numerics(x, "m")),
 ("tf.debugging.assert_equal(x, y)", lambda: tf.debugging.assert_equal(x, y)),
 ("tf.ones_like(x)", lambda: tf.ones_like(x)), ("tf.einsum('bi->b', x)", lambda: tf.einsum("bi->b", x)),
 ("tf.linalg.matmul(x, x, transpose_b=True)", lambda: tf.linalg.matmul(x, x, transpose_b=True)),
 ("tf.map_fn(tf.reduce_sum, x)", lambda: tf.map_fn(tf.reduce_sum, x)),
 ("tf.vectorized_map(tf.reduce_sum, x)", lambda: tf.vectorized_map(tf.reduce_sum, x)),
 ("tf.cond(x[0,0] > 0, ...)", lambda: tf.cond(x[0, 0] > 0, lambda: x, lambda: y)),
 ("tf.experimental.numpy.sum(x)", lambda: tf.experimental.numpy.sum(x)),
 ("tf.compat.v1.layers.flatten(x)", lambda: tf.compat.v1.layers.flatten(x)),
 ("tf.compat.v1.placeholder_with_default(x, (None, 8))", lambda: tf.compat.v1.placeholder_with_default(x, (None, 8))),
 ("tf.math.reduce_mean(x)", lambda: tf.math.reduce_mean(x)), ("tf.signal.fft(x)", lambda: tf.signal.fft(x)),
 ("tf.add_n([x, y])", lambda: tf.add_n([x, y])), ("tf.stack([x, y])", lambda: tf.stack([x, y])),
 ("tf.split(x, 2, -1)", lambda: tf.split(x, 2, -1)), ("tf.pad(x, [[0,0],[1,1]])", lambda: tf.pad(x, [[0, 0], [1, 1]])),
 ("tf.nn.softmax(x)", lambda: tf.nn.softmax(x)), ("tf.image.resize(img, (2,2))", lambda: tf.image.resize(img, (2, 2))),
 ("tf.keras.backend.int_shape(x)", lambda: tf.keras.backend.int_shape(x)),
 ("tf.dtypes.as_dtype(x.dtype)", lambda: tf.dtypes.as_dtype(x.dtype)), ("tf.is_symbolic_tensor(x)", lambda: tf.is_symbolic_tensor(x)),
 ("tf.identity_n([x])", lambda: tf.identity_n([x])), ("tf.where(x > 0, x, y)", lambda: tf.where(x > 0, x, y)),
 ("tf.math.is_nan(x)", lambda: tf.math.is_nan(x)), ("tf.strings.as_string(x)", lambda: tf.strings.as_string(x)),
 ("tf.tensor_scatter_nd_update(x, [[0]], [y[0]])", lambda: tf.tensor_scatter_nd_update(x, [[0]], y[:1])),
 ("tf.RaggedTensor.from_tensor(x)", lambda: tf.RaggedTensor.from_tensor(x)),
 ("tf.sparse.from_dense(x)", lambda: tf.sparse.from_dense(x)),
 ("tf.one_hot(x, 3)", lambda: tf.one_hot(x, 3)),
 ("tf.transpose(x)", lambda: tf.transpose(x)),
]
for label, fn in cases:
    print(f"  {label:<52s} {res(fn)}")
for label, fn in [
 ("tf_keras.Model(inputs=tf.constant)", lambda: tf_keras.Model(tf.constant(np.ones((1, 8), "float32")), tf_keras.layers.Dense(1)(lx))),
 ("tf_keras.Model(inputs=keras.Input, outputs=tf_keras.Input)", lambda: tf_keras.Model(x, lx)),
 ("tf_keras.Model(inputs=keras.Input, outputs=keras Dense(x))", lambda: tf_keras.Model(x, keras.layers.Dense(1)(x))),
 ("np.linalg.norm(x)", lambda: np.linalg.norm(x)), ("np.fft.fft(x)", lambda: np.fft.fft(x)),
 ("np.sum(tf_keras.Input)", lambda: np.sum(lx)),
]:
    print(f"  {label:<52s} {res(fn)}")
