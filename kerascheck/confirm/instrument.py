"""Instrumentation for confirm mode: rewrite a slice so that one flagged operation (and the
operations before it that would raise first) call back into the recipe, and redirect a legacy
file's `tensorflow.keras` imports to tf_keras.

Runs in the child (it only builds `ast` trees and builtins; TensorFlow is imported lazily).
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


def builtins_for(job: dict):
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
