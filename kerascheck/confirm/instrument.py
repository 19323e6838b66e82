"""Instrumentation for confirm mode: rewrite a slice so that one flagged operation (and the
operations before it that would raise first) call back into the recipe; stand-ins for earlier ops
that raise on KerasTensors.

Runs in the child (it only builds `ast` trees; TensorFlow is used through the probe).
"""

from __future__ import annotations

import ast

from kerascheck.confirm.source_index import ast_key

TARGET, DEFER, TARGET_OP, DEFER_OP = "__kc004_target__", "__kc004_defer__", "__kc004_target_op__", "__kc004_defer_op__"
OPERATORS = {"Add": "add", "Sub": "sub", "Mult": "mul", "Div": "truediv", "FloorDiv": "floordiv", "Mod": "mod",
              "Pow": "pow", "MatMult": "matmul", "LShift": "lshift", "RShift": "rshift", "BitOr": "or_",
              "BitXor": "xor", "BitAnd": "and_"}


class Done(BaseException):
    """The flagged op has run (or raised): stop the slice there."""


def is_kt(value) -> bool:
    return type(value).__name__ == "KerasTensor"


def leaves(value, out: list, depth: int = 0):
    """Replace KerasTensors in a nest of lists/tuples/dicts by slots; collect them in `out`."""
    if is_kt(value):
        out.append(value)
        return ("__kc004_slot__", len(out) - 1)
    if depth < 4 and isinstance(value, (list, tuple)):
        return type(value)(leaves(v, out, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict):
        return {k: leaves(v, out, depth + 1) for k, v in value.items()}
    return value


def fill(value, tensors, depth: int = 0):
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "__kc004_slot__":
        return tensors[value[1]]
    if depth < 4 and isinstance(value, (list, tuple)):
        return type(value)(fill(v, tensors, depth + 1) for v in value)
    if depth < 4 and isinstance(value, dict):
        return {k: fill(v, tensors, depth + 1) for k, v in value.items()}
    return value


def instrument(tree, job: dict) -> int:
    """Wrap the flagged op (and the ops to defer) in calls to the child's helpers; returns how
    many times the target was found (0 or 1)."""
    target = tuple(job["target"]["pos"])
    defer = {tuple(d["pos"]) for d in job.get("defer", ())}
    found = [0]

    class Wrap(ast.NodeTransformer):
        def visit_Call(self, node):
            self.generic_visit(node)
            key = tuple(ast_key(node))
            if key == target or key in defer:
                found[0] += key == target
                new = ast.Call(func=ast.Name(TARGET if key == target else DEFER, ast.Load()),
                               args=[node.func, *node.args], keywords=node.keywords)
                return ast.copy_location(new, node)
            return node

        def visit_BinOp(self, node):
            self.generic_visit(node)
            key = tuple(ast_key(node))
            name = OPERATORS.get(type(node.op).__name__)
            if name is not None and (key == target or key in defer):
                found[0] += key == target
                new = ast.Call(func=ast.Name(TARGET_OP if key == target else DEFER_OP, ast.Load()),
                               args=[ast.Constant(name), node.left, node.right], keywords=[])
                return ast.copy_location(new, node)
            return node

    Wrap().visit(tree)
    ast.fix_missing_locations(tree)
    return found[0]


STAND_IN_BATCH, STAND_IN_DIM = 7, 5  # concrete sizes for the batch and other unknown dimensions


def stand_in(probe, fn, nest, tensors: list):
    """What stands for an earlier op that raises on KerasTensors even as a Lambda layer (`np.tanh(x)`),
    so that the flagged op after it gets its own verdict: `fn` is run on concrete zeros shaped like
    `tensors` (batch 7, other unknown dimensions 5); a result with that batch dimension becomes a
    KerasTensor of its shape and dtype (a Lambda layer of TF ops, from the first tensor's batch
    size), a result without one (`np.mean(x, axis=0)`) is used as it is. None when `fn` fails on
    concrete arrays too."""
    np, tf = probe.np, probe.tf
    concrete = []
    for t in tensors:
        dtype = getattr(t.dtype, "name", t.dtype)
        dims = list(t.shape)
        shape = [STAND_IN_BATCH if i == 0 and d is None else STAND_IN_DIM if d is None else int(d)
                 for i, d in enumerate(dims)]
        concrete.append(np.zeros(tuple(shape), dtype=str(dtype)))
    args, kwargs = fill(nest, concrete)
    try:
        result = fn(*args, **kwargs)
        array = np.asarray(result)
    except Exception:  # noqa: BLE001 - no stand-in
        return None
    if array.dtype == object:
        return None
    if array.ndim == 0 or array.shape[0] != STAND_IN_BATCH:
        return result  # no batch dimension: the value does not depend on the batch
    tail, dtype = tuple(int(d) for d in array.shape[1:]), str(array.dtype)

    def zeros(t):
        return tf.zeros(tf.concat([tf.shape(t)[:1], tf.constant(tail, tf.int32)], 0), dtype=dtype)

    library = probe.keras_for(tensors[0])
    try:
        return library.layers.Lambda(zeros, output_shape=tail)(tensors[0])
    except Exception:  # noqa: BLE001
        return None
