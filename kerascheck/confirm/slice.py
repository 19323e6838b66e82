"""The slice of a file that confirm mode may execute (TensorFlow-free; runs in the lint worker).

Confirm mode never runs a file's module-level code. It runs a *slice*: the top-level imports and
the top-level definitions that the flagged code uses (transitively), plus constant assignments
such as `RATE = 0.5` or `L = tf.keras.layers` (literals, names, attributes, arithmetic: no
calls). Everything else at module level (training, data loading, `if __name__ == "__main__":`)
is left out; a needed name that only such code binds is listed in the job's "skipped" map, so the
child can say why it is missing. Statements keep their original line numbers, so tracebacks point
into the user's file.
"""

from __future__ import annotations

import ast
from typing import Any

import libcst as cst

from kerascheck.lines import split_lines

# Node types a constant assignment may contain: nothing that calls user code on purpose.
_SIMPLE = (ast.Constant, ast.Name, ast.Attribute, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.BinOp,
           ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Subscript, ast.Slice, ast.IfExp, ast.Starred,
           ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)


def free_names(source: str) -> set[str]:
    """Names an expression reads (over-approximated: bound comprehension variables included)."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        tree = ast.parse("(" + source.strip() + ")", mode="eval")
    return _names(tree)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _bound(node: ast.AST) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Import):
        return {(a.asname or a.name.split(".")[0]) for a in node.names}
    if isinstance(node, ast.ImportFrom):
        return {(a.asname or a.name) for a in node.names}
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            out.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            out |= _bound(sub)
    return out


def _simple_value(value: ast.AST | None) -> bool:
    return value is not None and all(isinstance(n, _SIMPLE) for n in ast.walk(value))


def _unit_kind(stmt: ast.stmt) -> str | None:
    """'future' | 'import' | 'def' | 'const' for statements a slice may hold, else None."""
    if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
        return "future"
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return "import"
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return "def"
    if isinstance(stmt, ast.Assign) and all(isinstance(t, (ast.Name, ast.Tuple)) for t in stmt.targets):
        return "const" if _simple_value(stmt.value) else None
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return "const" if _simple_value(stmt.value) else None
    if isinstance(stmt, ast.Try):
        # `try: import tf_keras as keras / except ImportError: from tensorflow import keras`
        parts = [*stmt.body, *stmt.orelse, *stmt.finalbody, *(s for h in stmt.handlers for s in h.body)]
        if all(isinstance(s, ast.Pass) or _unit_kind(s) in ("import", "const") for s in parts):
            return "import"
    return None


def make_slice(text: str, needed: set[str]) -> tuple[str, dict[str, int]]:
    """(slice source, {needed name bound only by module-level code: its line})."""
    tree = ast.parse(text)
    units = []  # (stmt, kind, bound, free)
    for stmt in tree.body:
        kind = _unit_kind(stmt)
        free = set() if kind in ("future", "import") else _names(stmt)
        units.append((stmt, kind, _bound(stmt), free))
    want = set(needed)
    chosen: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, (stmt, kind, bound, free) in enumerate(units):
            if i in chosen or kind is None:
                continue
            star = isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names)
            if kind == "future" or star or bound & want:
                chosen.add(i)
                want |= free
                changed = True
    provided = set().union(*(units[i][2] for i in chosen)) if chosen else set()
    skipped: dict[str, int] = {}
    for i, (stmt, kind, bound, _) in enumerate(units):
        if i not in chosen:
            for name in sorted((bound & want) - provided):
                skipped.setdefault(name, stmt.lineno)
    return _render(text, [units[i][0] for i in sorted(chosen)]), skipped


def _render(text: str, stmts: list[ast.stmt]) -> str:
    """The chosen statements at their original line numbers; every other line blank."""
    src_lines = split_lines(text)
    out = [""] * len(src_lines)
    for stmt in stmts:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Try)):
            start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", ())])
            for n in range(start, (stmt.end_lineno or stmt.lineno) + 1):
                out[n - 1] = src_lines[n - 1]
            continue
        segment = ast.get_source_segment(text, stmt) or ""
        for offset, piece in enumerate(split_lines(segment)):
            n = stmt.lineno + offset
            out[n - 1] = f"{out[n - 1]}; {piece}" if offset == 0 and out[n - 1] else piece
    return "\n".join(out) + "\n"


class Slicer:
    """Collects what one confirm job needs; `job(**fields)` returns the JSON-able job.

    `expr(node, ctx)` gives the source of an expression of the file (e.g. a layer constructor
    call) and records the names it reads; with the expression's `Context` (LayerDef.ctx,
    Apply.ctx), the enclosing function's parameters that have defaults become "locals" the child
    binds before evaluating it (`def build(rate=0.3): ... Dropout(rate)`).
    """

    def __init__(self, pic: Any, text: str) -> None:
        self.pic = pic
        self.text = text
        self.names: set[str] = set()
        self.locals: dict[str, str] = {}

    def source(self, node: cst.CSTNode) -> str:
        return self.pic.module.code_for_node(node).strip()

    def expr(self, node: cst.CSTNode, ctx: Any = None) -> str:
        src = self.source(node)
        self.names |= free_names(src)
        function = getattr(ctx, "function", None)
        if function is not None:
            self.params(function)
        return src

    def params(self, function: cst.FunctionDef) -> None:
        p = function.params
        for param in (*p.posonly_params, *p.params, *p.kwonly_params):
            if param.default is not None and param.name.value not in self.locals:
                src = self.source(param.default)
                self.locals[param.name.value] = src
                self.names |= free_names(src)

    def need(self, *names: str) -> None:
        self.names.update(names)

    def job(self, **fields: Any) -> dict[str, Any]:
        source, skipped = make_slice(self.text, self.names - set(self.locals))
        return {"slice": source, "locals": self.locals, "skipped": skipped, **fields}


# ------------------------------------------------------------------ shared by the recipes


def required_params(fn: cst.FunctionDef | None, bound: bool = True) -> list[str]:
    """Parameters without a default (the first, `self`, skipped for methods)."""
    if fn is None:
        return []
    p = fn.params
    positional = [*p.posonly_params, *p.params]
    if bound and positional:
        positional = positional[1:]
    return [q.name.value for q in (*positional, *p.kwonly_params) if q.default is None]


def literal_args(module: cst.Module, call: cst.Call) -> str | None:
    """`a, k=b` when every argument of the call is a literal, else None."""
    parts = []
    for arg in call.args:
        if arg.star:
            return None
        source = module.code_for_node(arg.value).strip()
        try:
            ast.literal_eval(source)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
        parts.append(f"{arg.keyword.value}={source}" if arg.keyword is not None else source)
    return ", ".join(parts)


def construction_args(module: cst.Module, name: str) -> str | None:
    """The arguments of the first `name(...)` call in the file whose arguments are all literals."""
    from kerascheck.names import walk

    for node in walk(module):
        if isinstance(node, cst.Call) and node.args:
            func = node.func
            called = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else None
            if called == name:
                args = literal_args(module, node)
                if args is not None:
                    return args
    return None


def nested_def(module: cst.Module, text: str, node: cst.FunctionDef | cst.ClassDef, slicer: Slicer) -> dict | None:
    """The source of a def that is not at the top level of the file, dedented, at its line
    (None for a top-level def, which the slice holds anyway)."""
    import textwrap

    if any(stmt is node for stmt in module.body):
        return None
    tree = ast.parse(text)
    kinds = (ast.ClassDef,) if isinstance(node, cst.ClassDef) else (ast.FunctionDef, ast.AsyncFunctionDef)
    flat = "".join(module.code_for_node(node).split())
    found = [n for n in ast.walk(tree) if isinstance(n, kinds) and n.name == node.name.value
             and n not in tree.body and "".join((ast.get_source_segment(text, n) or "\0").split()) in flat]
    if len(found) != 1:
        raise ValueError(f"cannot locate `{node.name.value}` in the file")
    target = found[0]
    start = min([target.lineno] + [d.lineno for d in target.decorator_list])
    lines = split_lines(text)[start - 1: target.end_lineno]
    source = textwrap.dedent("\n".join(lines))
    reads = {n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    slicer.names |= reads - {node.name.value}
    return {"line": start, "source": source}


def lines_of(ctx: Any, node: cst.CSTNode) -> tuple[int, int]:
    """First and last line of a node of the context's module."""
    from libcst.metadata import MetadataWrapper, PositionProvider

    where = MetadataWrapper(ctx.picture.module, unsafe_skip_copy=True).resolve(PositionProvider)[node]
    return where.start.line, where.end.line

