"""An `ast` index of one file for confirm mode: where each call and operator is, how to reach a
function from code the slice can run, and which module-level statements a flagged op needs.

TensorFlow-free: it runs in the parent, once per file with findings (see jobs.py).
"""

from __future__ import annotations

import ast
from typing import Any

import libcst as cst

from kerascheck.lines import split_lines

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

class SourceIndex:
    """The file's `ast`: top-level statements, defs, call sites, Call/BinOp nodes by line."""

    def __init__(self, text: str, module: cst.Module | None = None) -> None:
        self.text = text
        self.module = module  # the libcst module of the same text, for `positions`
        self._positions: dict | None = None
        self._constants: frozenset[str] | None = None
        self.tree = ast.parse(text)
        self.lines = split_lines(text)
        if text.endswith(("\n", "\r")):
            self.lines.append("")
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
                        name = called_name(child.func)
                        if name is not None:
                            self.sites.setdefault(name, []).append((child, None if owner is self.tree else owner))
                if isinstance(child, ast.Import):
                    for a in child.names:
                        self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                    for a in child.names:
                        self.aliases[a.asname or a.name] = f"{child.module}.{a.name}"
                stack.append((child, inner))

    @property
    def constants(self) -> frozenset[str]:
        """Names that module-level constant statements bind once (what a slice may hold)."""
        if self._constants is None:
            from kerascheck.confirm.slice import _bound, _unit_kind

            counts: dict[str, int] = {}
            for stmt in self.tree.body:
                for name in _bound(stmt):
                    counts[name] = counts.get(name, 0) + (1 if _unit_kind(stmt) == "const" else 2)
            self._constants = frozenset(n for n, c in counts.items() if c == 1)
        return self._constants

    @property
    def positions(self) -> dict:
        """libcst node -> CodeRange for the whole module (computed once, on first use)."""
        if self._positions is None:
            from kerascheck.confirm.slice import positions

            self._positions = positions(self.module)
        return self._positions

    def lines_of(self, node: cst.CSTNode) -> tuple[int, int]:
        where = self.positions[node]
        return where.start.line, where.end.line

    def char_col(self, line: int, byte_col: int) -> int:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return byte_col if text.isascii() else len(text.encode()[:byte_col].decode(errors="ignore"))

    def span(self, node) -> tuple[int, int, int, int]:
        return (node.lineno, self.char_col(node.lineno, node.col_offset),
                node.end_lineno, self.char_col(node.end_lineno, node.end_col_offset))

    def find(self, where, kind: str):
        """The ast Call/BinOp a libcst CodeRange covers (the outermost, parentheses aside)."""
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


def called_name(func) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
        return "self." + func.attr
    return None


def required_args(fn, method: bool) -> list[str]:
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    if method and positional:
        positional = positional[1:]
    need = [p.arg for p in positional[: len(positional) - len(a.defaults)]]
    need += [p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is None]
    return need


def literal_call(call, constants: frozenset[str] = frozenset()) -> bool:
    """Every argument is a literal, or reads only `constants` (module-level `NAME = literal`-like
    statements, which the slice holds): `build(16)`, `make_model((IMG, IMG, 3))`."""
    values = [*call.args, *(k.value for k in call.keywords)]
    if any(isinstance(v, ast.Starred) for v in call.args) or any(k.arg is None for k in call.keywords):
        return False
    for v in values:
        try:
            ast.literal_eval(v)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            names = [n for n in ast.walk(v) if isinstance(n, ast.Name)]
            if not names or any(n.id not in constants for n in names) or any(
                    isinstance(n, (ast.Call, ast.Lambda, ast.NamedExpr)) for n in ast.walk(v)):
                return False
    return True


def synthesised_args(fn, method: bool) -> tuple[str, list[str]] | None:
    """Keyword arguments synthesised for a function's required parameters (slice.synthesise),
    with their notes, or None when one cannot be synthesised."""
    from kerascheck.confirm.slice import synthesise

    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    if method and positional:
        positional = positional[1:]
    required = positional[: len(positional) - len(a.defaults)]
    required += [p for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is None]
    parts, notes = [], []
    for p in required:
        value = synthesise(p.arg, ast.unparse(p.annotation) if p.annotation is not None else None)
        if value is None:
            return None
        parts.append(value if p in a.posonlyargs else f"{p.arg}={value}")
        notes.append(f"{p.arg}={value}")
    return ", ".join(parts), notes


def entry(src: SourceIndex, line: int, col: int) -> tuple[str, Any, list[str]] | str:
    """How to reach code at (line, byte column): ("module", top-level statement index, []) or
    ("call", expression evaluated after the slice, synthesised values), or why it needs runtime data.

    A function is called with no arguments when it needs none; else through a same-file call with
    literal arguments; else with values synthesised from its parameters' names and type hints
    (`Wide(width=8)`); else through a caller reached the same way, or the module-level statement
    that calls it."""
    index = src.top_index(line, col)
    if index is None:
        return "the flagged op is not in a statement of the file"
    fn = None
    for node in ast.walk(src.tree.body[index]):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and \
                node.lineno <= line <= (node.end_lineno or node.lineno) and (fn is None or node.lineno >= fn.lineno):
            fn = node  # the innermost one
    if fn is None:
        return "module", index, []
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
        need = required_args(fn, method)
        if first is None:
            first = (fn.name, need)
        if owner is src.tree and not need:
            return "call", f"{fn.name}()", []
        sites: list = []
        if owner is src.tree:
            sites = src.sites.get(fn.name, [])
        elif method and src.parent.get(id(owner)) is src.tree:
            init = next((s for s in owner.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None)
            init_need = required_args(init, True) if init is not None else []
            if fn.name == "__init__":
                if not need:
                    return "call", f"{owner.name}()", []
                sites = src.sites.get(owner.name, [])
            else:
                if not need and not init_need:
                    return "call", f"{owner.name}().{fn.name}()", []
                sites = [s for s in src.sites.get("self." + fn.name, [])
                         if s[1] is not None and src.parent.get(id(s[1])) is owner]
        elif isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef)):
            sites = [s for s in src.sites.get(fn.name, []) if s[1] is owner]
        for call, where in sites:  # `build_model(16)`, wherever it is: evaluated on its own
            if (owner is src.tree or (method and fn.name == "__init__")) and literal_call(call, src.constants):
                return "call", ast.get_source_segment(src.text, call), []
        made = _synthesised_entry(src, fn, owner, method)
        if made is not None:
            return made
        for call, where in sites:
            if where is None:
                return "module", src.top_index(call.lineno, call.col_offset), []
            if isinstance(where, (ast.FunctionDef, ast.AsyncFunctionDef)):  # not a lambda or class body
                queue.append(where)
    name, need = first
    if need:
        return f"needs runtime data (parameter {need[0]} of {name}(), no call site with literal arguments)"
    return f"no way to call {name}() without runtime data"


def _synthesised_entry(src: SourceIndex, fn, owner, method: bool):
    """("call", `f(units=8)` / `Cls(width=8).method(...)`, notes) when every required parameter on
    the way can be synthesised, else None."""
    args = synthesised_args(fn, method)
    if args is None:
        return None
    if owner is src.tree:
        return "call", f"{fn.name}({args[0]})", args[1]
    if not method or src.parent.get(id(owner)) is not src.tree:
        return None
    if fn.name == "__init__":
        return "call", f"{owner.name}({args[0]})", args[1]
    init = next((s for s in owner.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None)
    init_args = synthesised_args(init, True) if init is not None else ("", [])
    if init_args is None:
        return None
    return "call", f"{owner.name}({init_args[0]}).{fn.name}({args[0]})", init_args[1] + args[1]


def names_read(node) -> set[str]:
    out = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
        out.add(node.target.id)
    return out


def names_bound(stmt) -> tuple[set[str], set[str]]:
    """(names the statement binds or changes, names it rebinds completely)."""
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


def unsafe(src: SourceIndex, stmt) -> str | None:
    """Why a module-level statement must not run in a slice (data, files, training), or None."""
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


def module_statements(src: SourceIndex, index: int):
    """The module-level statements the statement at `index` depends on, in order (itself
    last), and the names still needed from imports/definitions/constants; or a reason."""
    body = src.tree.body
    stmt = body[index]
    if not isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Return)):
        kind = type(stmt).__name__.lower()
        return (f"the flagged op is in a module-level `{kind}` block (line {stmt.lineno}); "
                "confirm mode runs only the straight-line statements that build the model")
    chosen, needed = [stmt], names_read(stmt)
    for prev in reversed(body[:index]):
        if isinstance(prev, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue  # the slice brings imports and definitions by name
        if isinstance(prev, ast.Try) and all(isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass, ast.Assign))
                                             for s in ast.walk(prev) if isinstance(s, ast.stmt) and s is not prev):
            continue  # `try: import tf_keras as keras / except ImportError: ...`
        changed, rebound = names_bound(prev)
        hit = changed & needed
        if not hit:
            continue
        why = unsafe(src, prev)
        if why is not None:
            return (f"the flagged op depends on `{min(hit)}`, set at line {prev.lineno} by "
                    f"{why}, which confirm mode does not run")
        chosen.append(prev)
        needed = (needed - (rebound & hit)) | names_read(prev)
    return list(reversed(chosen)), needed


def overlay(slice_src: str, src: SourceIndex, stmts) -> str:
    """Add module-level statements to a slice, at their original lines and columns."""
    out = split_lines(slice_src)
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


def isolable(stmt) -> bool:
    """A plain module-level statement (not an import, definition or block)."""
    return isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr))


def ast_key(node) -> list[int]:
    return [node.lineno, node.col_offset, node.end_lineno, node.end_col_offset]
