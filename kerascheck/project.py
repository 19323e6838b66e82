"""The project index: what the other modules of the project define, for analysis across files.

Built in a first pass over the files discovery found (and, on demand, over the project files
they import), before the per-file stage; read-only afterwards (workers inherit it).

- Files and module names. The project root is the folder with `pyproject.toml`, `setup.py`,
  `setup.cfg` or `.git` above a file; an absolute import `a.b` is looked for, in order, in the
  importing script's own folder, the configured `src` roots (like ruff's), the project root and
  its `src/`, and the folder above the importing file's top package. A folder without
  `__init__.py` is a namespace package. Relative imports are resolved from the file's package.
  Keras, TensorFlow and NumPy names never resolve into the project (`names.canonical` keeps
  them), so checking Keras's own sources changes nothing.
- A cheap scan of every file (bytes and a regular expression, no parse) gives the import
  graph: each file's project imports, which of the rules' prefilter words occur in what it
  imports (directly or not), and a fingerprint of everything it imports, which keys its entry
  in the result cache. Strongly connected components make all of it linear in the size of the
  graph: import cycles cost nothing more.
- A summary per module (the `ast` tree, only when a checked file reads the module) holds its
  top-level names: imports and aliases (so `__init__` re-exports and star imports resolve),
  functions with their parameters and what they return in the picture's terms (a KerasTensor and
  the layer that produced it, a model, a layer, a constant; `Summary`), classes with their
  bases and methods, and literal constants. A summary depends only on the module's text; what
  needs other modules (a class's Keras kind through a chain of bases, a function's return value
  through the helpers it calls) is computed from the summaries it imports, on demand, with
  cycle guards. Summaries are cached by content hash in the result cache.

Nothing here imports or executes user code; what cannot be resolved is unknown.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import math
import os
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerascheck.names import absolute, canonical, keras_class_kind_of
from kerascheck.parse import _dotted, _statements
from kerascheck.lines import split_lines

MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
# Top-level names that are never the project's own: the libraries the model knows by name.
EXTERNAL = frozenset({"tensorflow", "numpy", "keras", "tf_keras", "jax", "torch", "__future__"})
MAX_DEPTH = 24  # re-exports, bases and helpers followed from one name
MAX_DESC_DEPTH = 12  # nesting kept in a return description (deeper: only its KerasTensor-ness)
STRUCTURAL = ("__init__", "build", "call", "__call__")  # the methods a subclass's picture runs
SUMMARY_FORMAT = 1

_IMPORT_RE = re.compile(
    rb"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)|import[ \t]+([^\n#;]+))", re.MULTILINE)
_BASES = re.compile(rb"^[ \t]*class[ \t]+\w+[ \t]*\(([^)]*)\)", re.MULTILINE)
_DOTTED = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def _abs(path) -> Path:
    return Path(os.path.abspath(path))


def project_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding a project marker."""
    start = start if start.is_dir() else start.parent
    for folder in (start, *start.parents):
        for marker in MARKERS:
            if (folder / marker).exists():
                return folder
    return None


# ------------------------------------------------------------------ summaries (ast)


def _span(node: ast.stmt) -> tuple[int, int]:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())])
    return start, node.end_lineno or node.lineno


@functools.lru_cache(maxsize=4096)
def from_repr(text: str) -> Any:
    """A literal's value from the repr a summary keeps."""
    return ast.literal_eval(text)


def _literal(node: ast.AST | None) -> tuple[bool, Any]:
    if node is None:
        return False, None
    try:
        value = ast.literal_eval(node)
    except Exception:  # noqa: BLE001 - not a literal
        return False, None
    if isinstance(value, float) and not math.isfinite(value):
        return False, None
    if isinstance(value, (int, float, str, bool, type(None), tuple, list)) and len(repr(value)) <= 200:
        return True, value
    return False, None


def _has_import(node: ast.stmt) -> bool:
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (ast.Import, ast.ImportFrom)):
            return True
        for name in ("body", "orelse", "finalbody", "handlers"):
            stack.extend(getattr(current, name, ()))
    return False


class _Summariser:
    """One module's top-level names, from its `ast` tree."""

    def __init__(self, tree: ast.Module, lines: list[str], package: str | None, words: tuple[str, ...] = ()) -> None:
        self.lines = lines
        self.package = package
        self.words = words
        self.refs: dict[str, list[str]] = {}
        self.defs: dict[str, dict] = {}
        self.classes: dict[str, dict] = {}
        self.consts: dict[str, str] = {}
        self.other: set[str] = set()
        self.stars: list[str] = []
        self.header: list[tuple[int, int]] = []
        self.bound_by: dict[str, str] = {}  # name -> the text of the import statements that bind it
        self._fn_nodes: dict[str, ast.AST] = {}
        self._nodes: dict[str, ast.AST] = {}
        for node in tree.body:
            self.top(node, conditional=False)
        for name in list(self.refs):  # bound by an import and by something else: unknown
            if name in self.defs or name in self.classes or name in self.consts or name in self.other:
                self.other.add(name)
        for table in (self.refs, self.defs, self.classes, self.consts):
            for name in list(table):
                if name in self.other:
                    del table[name]
        keras_names = {n for n, raws in self.refs.items() if any(_is_library(r) for r in raws)}
        known = set(self.refs) | set(self.defs) | set(self.classes) | set(self.consts)
        for name, info in (*self.defs.items(), *self.classes.items()):
            start, end = info["line"], info["end"]
            node = self._nodes.get(name)
            if isinstance(node, ast.ClassDef):
                # What a subclass runs of it: its bases, and its structural methods.
                segment = "".join(lines[start - 1: node.body[0].lineno - 1]) + "".join(
                    _code(lines, *_span(m), m) for m in node.body
                    if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and m.name in STRUCTURAL)
            else:
                segment = _code(lines, start, end, node)
            used = set(_DOTTED.findall(segment))
            heads = {u.split(".", 1)[0] for u in used}
            # Its words: its own code's (not its module's imports: they say what libraries a module
            # uses, not what the code a caller reaches does).
            info["words"] = _bits(segment, words)
            info["touches"] = bool(heads & keras_names)
            # Project names it uses (`common.convolutional`, two segments at most): what it reaches.
            info["uses"] = sorted({".".join(u.split(".")[:2]) for u in used
                                   if u.split(".", 1)[0] in known and u.split(".", 1)[0] != name})
        describer = _Describer(self)
        for name, node in self._fn_nodes.items():
            if name in self.defs:
                self.defs[name]["returns"] = describer.function(node)

    def summary(self) -> dict:
        return {"format": SUMMARY_FORMAT, "refs": self.refs, "defs": self.defs, "classes": self.classes,
                "consts": self.consts, "other": sorted(self.other), "stars": self.stars,
                "header": self.header}

    def bind(self, name: str, raw: str | None) -> None:
        if raw is None:
            self.other.add(name)
        elif raw not in self.refs.setdefault(name, []):
            self.refs[name].append(raw)

    def top(self, node: ast.stmt, conditional: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            start, end = _span(node)
            self.header.append((start, end))
            text = "\n" + "".join(self.lines[start - 1: end])
            for alias in node.names:
                if alias.name != "*":
                    bound = alias.asname or alias.name.split(".")[0]
                    self.bound_by[bound] = self.bound_by.get(bound, "") + text
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.bind(alias.asname, alias.name)
                else:
                    head = alias.name.split(".")[0]
                    self.bind(head, head)
        elif isinstance(node, ast.ImportFrom):
            module = absolute(node.module, node.level, self.package)
            for alias in node.names:
                if alias.name == "*":
                    if module is not None:
                        self.stars.append(module)
                    continue
                self.bind(alias.asname or alias.name, f"{module}.{alias.name}" if module else None)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name in self.defs or node.name in self.classes or conditional:
                self.other.add(node.name)
                return
            start, end = _span(node)
            args = node.args
            params = []
            positional = [*args.posonlyargs, *args.args]
            defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
            for p, default in zip(positional, defaults):
                params.append(_param(p.arg, "pos", default))
            for p, default in zip(args.kwonlyargs, args.kw_defaults):
                params.append(_param(p.arg, "kw", default))
            self.defs[node.name] = {"line": start, "end": end, "params": params,
                                    "star": args.vararg is not None or args.kwarg is not None}
            self._fn_nodes[node.name] = node
            self._nodes[node.name] = node
        elif isinstance(node, ast.ClassDef):
            if node.name in self.defs or node.name in self.classes or conditional:
                self.other.add(node.name)
                return
            start, end = _span(node)
            bases = [_dotted(b) for b in node.bases]
            methods = sorted(m.name for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)))
            self.classes[node.name] = {"line": start, "end": end, "bases": bases, "methods": methods}
            self._nodes[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            if len(targets) == 1 and isinstance(targets[0], ast.Name) and value is not None:
                name = targets[0].id
                if isinstance(value, ast.Constant) and value.value is None:
                    return  # `X = None` beside an import of X (optional dependencies)
                dotted = _dotted(value)
                if dotted is not None:
                    head, _, rest = dotted.partition(".")
                    if head in self.refs and len(self.refs[head]) == 1 and name not in self.consts:
                        self.header.append(_span(node))
                        self.bind(name, self.refs[head][0] + ("." + rest if rest else ""))
                        return
                    if head in self.defs or head in self.classes:
                        self.bind(name, "@." + dotted)
                        return
                ok, lit = _literal(value)
                if ok and not conditional and name not in self.consts and name not in self.refs:
                    self.consts[name] = repr(lit)
                    return
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        self.other.add(sub.id)
        elif isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Name):
                self.other.add(node.target.id)
        elif isinstance(node, (ast.If, ast.Try, getattr(ast, "TryStar", ast.Try))):
            if _has_import(node):
                self.header.append(_span(node))
            for part in ("body", "orelse", "finalbody"):
                for stmt in getattr(node, part, ()):
                    self.top(stmt, conditional=True)
            for handler in getattr(node, "handlers", ()):
                for stmt in handler.body:
                    self.top(stmt, conditional=True)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    self.other.add(sub.id)
                elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    self.other.add(sub.name)


def _code(lines: list[str], start: int, end: int, node: ast.AST | None) -> str:
    """A definition's lines without its docstrings and comment lines: a word in an example
    (`>>> keras.Input(...)`) is not a use."""
    kept = list(lines[start - 1: end])
    for sub in _statements([node]) if node is not None else ():
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub.body:
            first = sub.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                for i in range(first.lineno - start, (first.end_lineno or first.lineno) - start + 1):
                    if 0 <= i < len(kept):
                        kept[i] = "\n"
    return "".join(line for line in kept if not line.lstrip().startswith("#"))


def _bits(text: str, words: tuple[str, ...]) -> int:
    """Which of `words` occur in `text` (bit i: word i; a word that starts with a line break also
    matches at the start)."""
    bits = 0
    for i, word in enumerate(words):
        if word in text or (word[:1] == "\n" and text.startswith(word[1:])):
            bits |= 1 << i
    return bits


def _param(name: str, kind: str, default: ast.AST | None) -> list:
    ok, value = _literal(default)
    return [name, kind, repr(value) if ok else None, default is not None]


def _is_library(raw: str) -> bool:
    return raw.split(".", 1)[0] in EXTERNAL or canonical(raw).flavor is not None


# A return description is a JSON-able list, evaluated across modules by `Index.value`:
#   ["unknown"] | ["literal", repr] | ["param", name] | ["ref", raw] ("@.name": this module)
#   ["input", line, col] | ["layer", canon, line, col] | ["model", canon, line, col]
#   ["apply", callee, input, line, col] | ["op", raw, [args], line, col]
#   ["call", raw, [args], {kw: arg}, line, col] | ["seq", [items]] | ["union", [alternatives]]
#   ["kt", origin]: a value whose structure was cut off; origin "input", ["params", ...] or "no"
UNKNOWN_DESC = ["unknown"]
_NOT_LAYERS = frozenset({"Layer", "InputSpec", "Input", "InputLayer"})


class _Describer:
    """What a function returns, in terms of its parameters and the names of its module."""

    def __init__(self, module: _Summariser) -> None:
        self.module = module

    def function(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list:
        env: dict[str, list] = {}
        args = fn.args
        for p in (*args.posonlyargs, *args.args, *args.kwonlyargs):
            env[p.arg] = ["param", p.arg]
        for p in (args.vararg, args.kwarg):
            if p is not None:
                env[p.arg] = UNKNOWN_DESC
        returns: list[list] = []
        try:
            self.block(fn.body, env, returns)
        except RecursionError:
            return UNKNOWN_DESC
        return _union(returns) if returns else UNKNOWN_DESC

    def block(self, body, env: dict, returns: list) -> bool:
        """Interpret `body`; False when it always returns (what follows is not reached)."""
        for stmt in body:
            if isinstance(stmt, ast.Return):
                returns.append(self.expr(stmt.value, env, 0) if stmt.value is not None else ["literal", "None"])
                return False
            if isinstance(stmt, (ast.Raise,)):
                return False
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                value = self.expr(stmt.value, env, 0)
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    self.assign(target, value, env)
            elif isinstance(stmt, ast.AugAssign):
                if isinstance(stmt.target, ast.Name):
                    old = env.get(stmt.target.id, UNKNOWN_DESC)
                    env[stmt.target.id] = ["op", "binop", [old, self.expr(stmt.value, env, 0)],
                                           stmt.lineno, stmt.col_offset + 1]
            elif isinstance(stmt, ast.If):
                left, right = dict(env), dict(env)
                go_left = self.block(stmt.body, left, returns)
                go_right = self.block(stmt.orelse, right, returns)
                reached = [e for e, go in ((left, go_left), (right, go_right)) if go]
                if not reached:
                    return False
                _merge(env, reached)
            elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
                if isinstance(stmt, (ast.For, ast.AsyncFor)):
                    self.assign(stmt.target, UNKNOWN_DESC, env)
                inner = dict(env)
                self.block(stmt.body, inner, returns)
                _merge(env, [env, inner])
                self.block(stmt.orelse, env, returns)
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                for item in stmt.items:
                    if item.optional_vars is not None:
                        self.assign(item.optional_vars, UNKNOWN_DESC, env)
                if not self.block(stmt.body, env, returns):
                    return False
            elif isinstance(stmt, (ast.Try, getattr(ast, "TryStar", ast.Try))):
                body = dict(env)
                self.block([*stmt.body, *stmt.orelse], body, returns)
                branches = [body]
                for handler in stmt.handlers:
                    other = dict(env)
                    if handler.name:
                        other[handler.name] = UNKNOWN_DESC
                    if self.block(handler.body, other, returns):
                        branches.append(other)
                _merge(env, branches)
                self.block(stmt.finalbody, env, returns)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                env[stmt.name] = UNKNOWN_DESC
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                for alias in stmt.names:
                    env[(alias.asname or alias.name).split(".")[0]] = UNKNOWN_DESC
        return True

    def assign(self, target: ast.AST, value: list, env: dict) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = value[1] if value[0] == "seq" and len(value[1]) == len(target.elts) else None
            for i, el in enumerate(target.elts):
                if isinstance(el, ast.Starred):
                    self.assign(el.value, UNKNOWN_DESC, env)
                elif items is not None:
                    self.assign(el, items[i], env)
                else:  # unpacking a layer's outputs keeps their KerasTensor-ness
                    self.assign(el, ["op", "unpack", [value], el.lineno, el.col_offset + 1], env)

    def expr(self, node: ast.AST | None, env: dict, depth: int) -> list:
        if node is None:
            return UNKNOWN_DESC
        if depth > MAX_DESC_DEPTH:
            return _cut(self.expr(node, env, 0)) if depth == MAX_DESC_DEPTH + 1 else UNKNOWN_DESC
        d = depth + 1
        if isinstance(node, ast.Constant):
            ok, value = _literal(node)
            return ["literal", repr(value)] if ok else UNKNOWN_DESC
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            return self.name(node.id)
        if isinstance(node, ast.Attribute):
            base = self.expr(node.value, env, d)
            if base[0] == "ref":
                return ["ref", f"{base[1]}.{node.attr}"]
            return UNKNOWN_DESC
        if isinstance(node, ast.Call):
            return self.call(node, env, d)
        if isinstance(node, (ast.List, ast.Tuple)):
            if any(isinstance(el, ast.Starred) for el in node.elts) or len(node.elts) > 32:
                return UNKNOWN_DESC
            return ["seq", [self.expr(el, env, d) for el in node.elts]]
        if isinstance(node, ast.BinOp):
            return ["op", "binop", [self.expr(node.left, env, d), self.expr(node.right, env, d)],
                    node.lineno, node.col_offset + 1]
        if isinstance(node, ast.UnaryOp):
            inner = self.expr(node.operand, env, d)
            if inner[0] == "literal":
                ok, value = _literal(node)
                return ["literal", repr(value)] if ok else UNKNOWN_DESC
            return ["op", "unary", [inner], node.lineno, node.col_offset + 1]
        if isinstance(node, ast.Subscript):
            return ["op", "subscript", [self.expr(node.value, env, d)], node.lineno, node.col_offset + 1]
        if isinstance(node, ast.IfExp):
            return _union([self.expr(node.body, env, d), self.expr(node.orelse, env, d)])
        if isinstance(node, ast.NamedExpr):
            value = self.expr(node.value, env, d)
            env[node.target.id] = value
            return value
        return UNKNOWN_DESC

    def name(self, name: str) -> list:
        module = self.module
        raws = module.refs.get(name)
        if raws is not None:
            return ["ref", raws[0]] if len(raws) == 1 else UNKNOWN_DESC
        if name in module.defs or name in module.classes or name in module.consts:
            return ["ref", "@." + name]
        if name in ("True", "False", "None"):
            return ["literal", name]
        return UNKNOWN_DESC

    def call(self, node: ast.Call, env: dict, depth: int) -> list:
        where = [node.lineno, node.col_offset + 1]
        func = self.expr(node.func, env, depth)
        if any(isinstance(a, ast.Starred) for a in node.args):
            args = None
        else:
            args = [self.expr(a, env, depth) for a in node.args]
        kwargs = {k.arg: self.expr(k.value, env, depth) for k in node.keywords if k.arg is not None}
        if any(k.arg is None for k in node.keywords):
            args = None
        if func[0] == "ref":
            raw = func[1]
            canon = canonical(raw) if not raw.startswith("@.") else None
            if canon is not None and canon.flavor is not None:
                name = canon.name
                if name == "keras.Input":
                    return ["input", *where]
                if name in ("keras.Sequential", "keras.Model", "keras.Functional"):
                    return ["model", name, *where]
                if name.startswith("keras.layers.") and canon.short[:1].isupper() and canon.short not in _NOT_LAYERS:
                    return ["layer", name, *where]
                if name.startswith(("keras.ops.", "keras.activations.", "keras.random.", "keras.backend.")):
                    return ["op", name, [*(args or []), *kwargs.values()], *where]
            elif raw.split(".", 1)[0] in ("tensorflow", "numpy"):
                return ["op", raw, [*(args or []), *kwargs.values()], *where]
            if args is None:
                return ["call", raw, None, {}, *where]
            return ["call", raw, args, kwargs, *where]
        if func[0] in ("layer", "model", "call"):
            first = args[0] if args else kwargs.get("inputs", UNKNOWN_DESC)
            return ["apply", func, first, *where]
        return UNKNOWN_DESC


def _merge(env: dict, branches: list[dict]) -> None:
    names = set().union(*branches)
    for name in names:
        values = [b.get(name, UNKNOWN_DESC) for b in branches]
        env[name] = values[0] if all(v == values[0] for v in values) else _union(values)


def _union(values: list[list]) -> list:
    flat: list[list] = []
    for v in values:
        for alt in (v[1] if v[0] == "union" else [v]):
            if alt not in flat:
                flat.append(alt)
    if len(flat) == 1:
        return flat[0]
    if len(flat) > 8:
        return UNKNOWN_DESC
    return ["union", flat]


def _cut(desc: list) -> list:
    """A description too deep to keep whole: only where its KerasTensor-ness comes from."""
    params: set[str] = set()
    stack = [desc]
    found_input = False
    while stack:
        d = stack.pop()
        if not isinstance(d, list) or not d:
            continue
        if d[0] == "input":
            found_input = True
        elif d[0] == "param":
            params.add(d[1])
        elif d[0] == "kt":
            if d[1] == "input":
                found_input = True
            elif isinstance(d[1], list):
                params.update(d[1][1:])
        else:
            stack.extend(x for x in d[1:] if isinstance(x, list))
            stack.extend(x for x in d[1:] if isinstance(x, dict) for x in x.values())
    return ["kt", "input" if found_input else (["params", *sorted(params)] if params else "no")]


def summarise(text: str, package: str | None, words: tuple[str, ...] = ()) -> dict | None:
    """The summary of one module's text, or None when it does not parse. `words` (the rules'
    prefilter words) are looked for in each function and class, and in the imports."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    try:
        return _Summariser(tree, split_lines(text, keepends=True), package, words).summary()
    except RecursionError:
        return None


# ------------------------------------------------------------------ values across modules


@dataclass(frozen=True)
class Symbol:
    """What a dotted name of the project is: kind "def" | "class" | "const" | "module" |
    "external" (a name the project re-exports from a library: `raw` is where it comes from)."""

    kind: str
    path: Path | None = None  # the defining module's file
    name: str = ""  # the symbol's name in that module ("" for modules)
    raw: str = ""  # external: the library path; else the project's dotted path of the symbol
    info: dict | None = field(default=None, compare=False)  # the summary's entry (def, class)
    value: Any = field(default=None, compare=False)  # const: the Python value

    @property
    def qualname(self) -> str:
        return self.raw


@dataclass(frozen=True)
class Summary:
    """A value in the picture's terms, computed from summaries. kind: "tensor" | "model" |
    "layer" | "const" | "literal" | "seq" | "param" | "unknown".

    A tensor is symbolic (`kt`) or symbolic when one of `params` is; `layer` names the layer
    that produced it (or, for a layer or model, its class), made at `where` (path, line, col)."""

    kind: str
    kt: bool = False
    params: frozenset[str] = frozenset()
    layer: str | None = None
    where: tuple[str, int, int] | None = None
    lit: Any = None
    lib: str | None = None
    items: tuple[Summary, ...] = ()

    def describe(self) -> str:
        """For messages and the index report: "a KerasTensor (output of Dropout at a.py:3)"."""
        at = f" at {Path(self.where[0]).name}:{self.where[1]}" if self.where else ""
        if self.kind == "tensor":
            what = "a KerasTensor" if self.kt else (
                f"a KerasTensor when {', '.join(sorted(self.params))} is one" if self.params else "a tensor")
            return what + (f" (output of {self.layer.rsplit('.', 1)[-1]}{at})" if self.layer else "")
        if self.kind in ("layer", "model"):
            return f"a {self.kind} ({(self.layer or '?').rsplit('.', 1)[-1]}{at})"
        if self.kind == "literal":
            return f"the constant {self.lit!r}"
        if self.kind == "const":
            return f"a {self.lib} value"
        if self.kind == "seq":
            return "[" + ", ".join(i.describe() for i in self.items) + "]"
        if self.kind == "param":
            return f"its parameter {next(iter(self.params))}"
        return "unknown"


UNKNOWN = Summary("unknown")
RECURSION = Summary("recursion")  # a function's value while it is computed: its fixpoint adds nothing


def _union_values(values: list[Summary]) -> Summary:
    values = [v for v in values if v is not RECURSION]
    if not values:
        return UNKNOWN
    first = values[0]
    if all(v == first for v in values):
        return first
    if all(v.kind == "tensor" for v in values):
        return Summary("tensor", kt=all(v.kt for v in values),
                       params=frozenset().union(*(v.params for v in values)) if not all(v.kt for v in values) else frozenset())
    if all(v.kind == "model" for v in values):
        return Summary("model", layer=first.layer if all(v.layer == first.layer for v in values) else None)
    return UNKNOWN


# ------------------------------------------------------------------ the index


@dataclass
class _Scan:
    digest: str
    imports: tuple[str, ...]  # absolute module names it may import (candidates)
    words: int  # bit i: the run's word i occurs in it
    names: tuple[tuple[str, str], ...] = ()  # what it imports, and the name it binds: (a.b, b) for `from a import b`
    bases: frozenset[str] = frozenset()  # the names its class statements derive from


class Index:
    """The project's modules, their import graph and their summaries.

    `read(path) -> bytes | None` gives a file's bytes (default: the disk); `words` are the
    prefilter words of the run's rules; `store` maps content digests to cached summaries (the
    result cache fills it, and saves `new_summaries`).
    """

    def __init__(self, root: Path | None = None, src: Iterable[Path] = (), words: Iterable[bytes] = (),
                 read: Callable[[Path], bytes | None] | None = None, store: dict | None = None) -> None:
        self.root = _abs(root) if root is not None else None
        self.src = tuple(_abs(p) for p in src)
        self.words = tuple(dict.fromkeys(words))
        self._read = read
        self.store = store if store is not None else {}
        self.new_summaries: dict[str, dict] = {}
        self._data: dict[Path, bytes] = {}  # editors' buffers
        self._targets: dict[Path, None] = {}  # the files to check, in order
        self._scans: dict[Path, _Scan | None] = {}
        self._summaries: dict[Path, dict | None] = {}
        self._texts: dict[Path, str | None] = {}
        self._lines: dict[Path, list[str]] = {}
        self._names: dict[Path, tuple[str, str | None]] = {}
        self._by_name: dict[str, Path] = {}
        self._is_pkg: dict[Path, bool] = {}
        self._found: dict[tuple[Path, str], Path | None] = {}
        self._roots: dict[Path, tuple[Path, ...]] = {}
        self._graph: dict[Path, tuple[Path, ...]] = {}
        self._sccs: dict[Path, int] | None = None
        self._scc_words: list[int] = []
        self._scc_prints: list[str] = []
        self._resolved: dict[tuple[str, Path | None], Symbol | None] = {}
        self._kinds: dict[tuple[Path, str], tuple[str, tuple[str, ...]] | None] = {}
        self._touch: dict[tuple[Path, str], bool] = {}
        self._values: dict[tuple, Summary] = {}
        self._bits: dict[tuple[Path, str], int] = {}
        self._word_text = tuple(w.decode("latin-1") for w in self.words)
        # The words by their first four bytes (after a leading line break): one search rules out
        # every word of a group that is absent (the words share prefixes: `from keras.`, ...).
        groups: dict[bytes, list[tuple[int, bytes]]] = {}
        for i, word in enumerate(self.words):
            groups.setdefault(word[1:5] if word[:1] == b"\n" else word[:4], []).append((i, word))
        self._word_groups = tuple((key, tuple(members)) for key, members in groups.items())
        self._words_key = hashlib.blake2b(b"\0".join(self.words), digest_size=8).hexdigest()

    # -- files ------------------------------------------------------------------------------

    @classmethod
    def for_file(cls, path: Path, src: Iterable[Path] = (), words: Iterable[bytes] = (),
                 read: Callable[[Path], bytes | None] | None = None) -> Index:
        """An index for checking one file: its project's root, nothing summarised yet."""
        path = _abs(path)
        return cls(project_root(path.parent), src, words, read)

    def add(self, path: Path, data: bytes, keep: bool = True) -> None:
        """A file to check, with its bytes (read once by the engine). `keep`: an editor's buffer,
        which the disk does not hold; otherwise only its scan is kept."""
        path = _abs(path)
        if keep:
            if self._data.get(path) != data:
                known = path in self._data or path in self._scans
                self._data[path] = data
                if known:
                    self.forget(path, keep_data=True)
        else:
            scan = self._scan(path, data)
            old = self._scans.get(path)
            if old is not None and old.digest != scan.digest:
                self.forget(path)
            self._scans[path] = scan
        if path not in self._targets:
            self._targets[path] = None
            self._sccs = None

    def forget(self, path: Path, keep_data: bool = False) -> None:
        """A file changed (the language server): read it again when it is needed."""
        path = _abs(path)
        tables = (self._scans, self._summaries, self._texts, self._lines, self._graph)
        for table in (tables if keep_data else (self._data, self._targets, *tables)):
            table.pop(path, None)
        self._sccs = None
        self._found.clear()
        self._is_pkg.pop(path.parent, None)
        self._roots.clear()
        self._resolved.clear()
        self._kinds.clear()
        self._touch.clear()
        self._values.clear()
        self._bits.clear()

    def bytes(self, path: Path) -> bytes | None:
        data = self._data.get(path)
        if data is not None:
            return data
        if self._read is not None:
            return self._read(path)
        try:
            with open(path, "rb") as fh:
                return fh.read(8 * 1024 * 1024)
        except OSError:
            return None

    def text(self, path: Path) -> str | None:
        """The module's text, as Python source (None when it cannot be read or decoded)."""
        if path in self._texts:
            return self._texts[path]
        data = self.bytes(path)
        text = None
        if data is not None:
            from kerascheck.source import Unreadable, decode

            try:
                text = decode(data)
            except Unreadable:
                text = None
        self._texts[path] = text
        return text

    def lines(self, path: Path) -> list[str]:
        """The module's lines, with their ends (as Python splits them)."""
        got = self._lines.get(path)
        if got is None:
            from kerascheck.lines import split_lines

            got = self._lines[path] = split_lines(self.text(path) or "", keepends=True)
        return got

    def _package(self, folder: Path) -> bool:
        got = self._is_pkg.get(folder)
        if got is None:
            got = self._is_pkg[folder] = (folder / "__init__.py").is_file()
        return got

    def module_name(self, path: Path) -> tuple[str, str | None]:
        """(dotted module name, package for relative imports) of a file."""
        got = self._names.get(path)
        if got is not None:
            return got
        parts = [path.stem] if path.stem != "__init__" else []
        folder = path.parent
        in_package = self._package(folder)
        if in_package:
            while self._package(folder):
                parts.insert(0, folder.name)
                if folder.parent == folder:
                    break
                folder = folder.parent
        else:
            for root in (*self.src, *self._project_roots()):
                if folder == root or root in folder.parents:
                    parts = [*folder.relative_to(root).parts, *parts]
                    break
        name = ".".join(parts) or path.stem
        if path.stem == "__init__":
            package = name
        elif in_package:
            package = name.rpartition(".")[0]
        else:
            package = None
        taken = self._by_name.get(name)
        if taken is not None and taken != path:
            name = f"{name}@{hashlib.blake2b(str(path).encode('utf-8', 'surrogatepass'), digest_size=4).hexdigest()}"
        self._by_name.setdefault(name, path)
        self._names[path] = (name, package)
        return name, package

    def _project_roots(self) -> tuple[Path, ...]:
        if self.root is None:
            return ()
        src = self.root / "src"
        return (self.root, src) if src.is_dir() else (self.root,)

    def roots_for(self, importer: Path | None) -> tuple[tuple[Path, str | None], ...]:
        """Where absolute imports in `importer` are looked for: (folder, the only top-level name
        it may give, or None for any)."""
        if importer is None:
            return tuple((r, None) for r in (*self.src, *self._project_roots()))
        folder = importer.parent
        got = self._roots.get(folder)
        if got is None:
            top = folder
            while self._package(top) and top.parent != top:
                top = top.parent
            roots: list[tuple[Path, str | None]] = []
            if not self._package(folder):
                roots.append((folder, None))  # a script's own folder
            roots += [(r, None) for r in (*self.src, *self._project_roots())]
            if top != folder or self._package(folder):
                # Above the file's top package (an installed one too): that package's own names only,
                # never the other libraries beside it.
                package = folder.relative_to(top).parts[0] if folder != top else folder.name
                roots.append((top, package))
            got = self._roots[folder] = tuple(dict.fromkeys(roots))
        return got

    def find(self, dotted: str, importer: Path | None) -> Path | None:
        """The file (or, for a namespace package, the folder) of module `dotted`, or None."""
        head = dotted.split(".", 1)[0]
        if not dotted or head in EXTERNAL:
            return None
        for root, only in self.roots_for(importer):
            if only is not None and head != only:
                continue
            key = (root, dotted)
            if key not in self._found:
                base = root.joinpath(*dotted.split("."))
                found = None
                for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
                    if candidate in self._data or candidate.is_file():
                        found = candidate
                        break
                if found is None and base.is_dir() and dotted.split(".", 1)[0] != "src":
                    found = base  # a namespace package
                self._found[key] = found
            if self._found[key] is not None:
                return self._found[key]
        return None

    # -- the cheap scan and the import graph -------------------------------------------------

    def scan(self, path: Path) -> _Scan | None:
        if path in self._scans:
            return self._scans[path]
        data = self.bytes(path)
        result = self._scan(path, data) if data is not None else None
        self._scans[path] = result
        return result

    def _scan(self, path: Path, data: bytes) -> _Scan:
        if path.suffix == ".ipynb":
            from kerascheck import notebook
            from kerascheck.source import Unreadable

            try:
                data, _ = notebook.to_source(data)
            except Unreadable:
                data = b""
        imports, names = self._imports(path, data)
        bases = frozenset(b.decode("utf-8", "replace") for group in _BASES.findall(data)
                          for b in re.findall(rb"[A-Za-z_]\w*", group)) if b"class" in data else frozenset()
        return _Scan(hashlib.blake2b(data, digest_size=16).hexdigest(), imports, self._words(data), names, bases)

    def _imports(self, path: Path, data: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(modules it may import, names it imports), from import statements found by a regular
        expression (one in a docstring counts too: an edge too many costs nothing but time)."""
        if b"import" not in data:
            return (), ()
        package = self.module_name(path)[1] if path.suffix != ".ipynb" else None
        found: list[str] = []
        names: list[str] = []
        for match in _IMPORT_RE.finditer(data):
            module, imported, plain = match.groups()
            if plain is not None:
                for item in plain.decode("utf-8", "replace").split(","):
                    parts = item.split()
                    if parts:
                        found.append(parts[0])
                        names.append((parts[0], parts[-1] if len(parts) == 3 else parts[0].split(".")[0]))
                continue
            text = module.decode("utf-8", "replace")
            level = len(text) - len(text.lstrip("."))
            base = absolute(text.lstrip(".") or None, level, package)
            if base is None:
                continue
            found.append(base)
            for item in imported.decode("utf-8", "replace").strip("()").split(","):
                parts = item.split()
                name = parts[0] if parts else ""
                if name.isidentifier():
                    found.append(f"{base}.{name}")
                    names.append((f"{base}.{name}", parts[-1] if len(parts) == 3 else name))
                elif name == "*":
                    names.append((base, "*"))

        def ours(f: str) -> bool:
            return f.split(".", 1)[0] not in EXTERNAL

        return (tuple(dict.fromkeys(filter(ours, found))),
                tuple(dict.fromkeys(n for n in names if ours(n[0]))))

    def _words(self, data: bytes) -> int:
        bits = 0
        for key, members in self._word_groups:
            if key in data:
                for i, word in members:
                    if word in data or (word[:1] == b"\n" and data.startswith(word[1:])):
                        bits |= 1 << i
        return bits

    def imports_of(self, path: Path) -> tuple[Path, ...]:
        """The project files `path` imports (its edges in the import graph)."""
        got = self._graph.get(path)
        if got is None:
            scan = self.scan(path)
            files = []
            for dotted in scan.imports if scan is not None else ():
                found = self.find(dotted, path)
                if found is not None and found != path and found.suffix == ".py":
                    files.append(found)
            got = self._graph[path] = tuple(dict.fromkeys(files))
        return got

    def _components(self) -> dict[Path, int]:
        """Strongly connected components of the graph from every added file (Tarjan, iterative),
        with each component's words and fingerprint folded from the components it imports."""
        if self._sccs is not None:
            return self._sccs
        index: dict[Path, int] = {}
        low: dict[Path, int] = {}
        on_stack: set[Path] = set()
        stack: list[Path] = []
        comp: dict[Path, int] = {}
        words: list[int] = []
        prints: list[str] = []
        counter = 0
        for start in list(self._targets):
            if start in index:
                continue
            work = [(start, iter(self.imports_of(start)))]
            index[start] = low[start] = counter
            counter += 1
            stack.append(start)
            on_stack.add(start)
            while work:
                node, edges = work[-1]
                advanced = False
                for nxt in edges:
                    if nxt not in index:
                        index[nxt] = low[nxt] = counter
                        counter += 1
                        stack.append(nxt)
                        on_stack.add(nxt)
                        work.append((nxt, iter(self.imports_of(nxt))))
                        advanced = True
                        break
                    if nxt in on_stack:
                        low[node] = min(low[node], index[nxt])
                if advanced:
                    continue
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    members = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.append(member)
                        comp[member] = len(words)
                        if member == node:
                            break
                    # Components finish after the ones they import: fold theirs in.
                    bits = 0
                    h = hashlib.blake2b(digest_size=16)
                    children = set()
                    for member in sorted(members):
                        scan = self.scan(member)
                        bits |= scan.words if scan is not None else 0
                        h.update(f"{member}\0{scan.digest if scan else '-'}\n".encode("utf-8", "surrogatepass"))
                        children.update(c for c in (comp.get(o) for o in self.imports_of(member))
                                        if c is not None and c != len(words))
                    for child in sorted(children):
                        bits |= words[child]
                        h.update(prints[child].encode("utf-8", "surrogatepass"))
                    words.append(bits)
                    prints.append(h.hexdigest())
        self._sccs, self._scc_words, self._scc_prints = comp, words, prints
        return comp

    def imported_words(self, path: Path, precise: bool = True, wanted: Iterable[bytes] | None = None) -> frozenset[bytes]:
        """The prefilter words that occur in what `path` imports from the project. Precise: in
        each imported function or class (its text and its module's imports) and in what they use
        of the project, directly or not; a module imported whole counts whole. Not precise (no
        summary needed): in every module it imports, directly or not. With `wanted`, only those
        words are looked for (a module that cannot hold one is not summarised)."""
        path = _abs(path)
        if precise:
            bits = 0
            scan = self.scan(path)
            mask = sum(1 << i for i, w in enumerate(self.words) if w in set(wanted)) if wanted is not None else -1
            for name, local in scan.names if scan is not None else ():
                if not self._module_bits(name, path) & mask:
                    continue
                sym = self.resolve(name, path)
                if sym is not None and self._reached(sym, local, scan):
                    bits |= self._symbol_bits(sym)
        else:
            comps = self._components()
            bits = 0
            for other in self.imports_of(path):
                if other in comps:
                    bits |= self._scc_words[comps[other]]
        return frozenset(w for i, w in enumerate(self.words) if bits >> i & 1)

    def _module_bits(self, dotted: str, importer: Path) -> int:
        """The words of the module `dotted` (or that holds it) and of what it imports: a bound."""
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            found = self.find(".".join(parts[:cut]), importer)
            if found is not None:
                if found.is_dir():
                    return -1  # a namespace package: no bound
                comps = self._components()
                scan = self.scan(found)
                return (scan.words if scan is not None else 0) | (self._scc_words[comps[found]] if found in comps else -1)
        return 0

    def _reached(self, sym: Symbol, local: str, scan: _Scan) -> bool:
        """Does the importing file run the code of `sym`: a function (called), a class it derives
        from, a constraint class (whose bounds a rule reads)? A class only instantiated is not run."""
        if sym.kind != "class":
            return True
        if local in scan.bases or local == "*":
            return True
        kind = self.class_kind(sym)
        return kind is not None and kind[0] == "constraint"

    def _symbol_bits(self, sym: Symbol, depth: int = 0) -> int:
        """The words of a project symbol: its own text and its module's imports, and (through
        the names it uses) the symbols it reaches; a module: every module it imports."""
        if sym.kind == "module" and sym.path is not None and not sym.path.is_dir():
            comps = self._components()
            scan = self.scan(sym.path)
            bits = scan.words if scan is not None else 0
            return bits | (self._scc_words[comps[sym.path]] if sym.path in comps else 0)
        if sym.kind not in ("def", "class") or sym.info is None or depth > MAX_DEPTH:
            return 0
        key = (sym.path, sym.name)
        if key in self._bits:
            return self._bits[key]
        bits = sym.info.get("words", 0)
        self._bits[key] = bits  # a cycle adds nothing more
        for name in sym.info.get("uses", ()):
            head, _, attr = name.partition(".")
            other = self.member(sym.path, head, [attr] if attr else [], depth + 1)
            if other is None and attr:
                other = self.member(sym.path, head, [], depth + 1)
            if other is not None and other.kind in ("def", "class"):
                bits |= self._symbol_bits(other, depth + 1)
        self._bits[key] = bits
        return bits

    def fingerprint(self, path: Path) -> str:
        """A hash of every project module `path` imports, directly or not ("" when none): a
        file's cached result is valid only while it is unchanged."""
        path = _abs(path)
        comps = self._components()
        parts = sorted(self._scc_prints[comps[o]] for o in self.imports_of(path) if o in comps)
        if not parts:
            return ""
        return hashlib.blake2b("".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

    def closure(self, path: Path) -> set[Path]:
        """The project files `path` imports, directly or not."""
        seen: set[Path] = set()
        todo = list(self.imports_of(_abs(path)))
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo.extend(self.imports_of(current))
        return seen

    def dependents(self, paths: Iterable[Path], among: Iterable[Path]) -> set[Path]:
        """The files of `among` that import one of `paths`, directly or not (not `paths`)."""
        among = [_abs(p) for p in among]
        wanted = {_abs(p) for p in paths}
        reverse: dict[Path, list[Path]] = {}
        for file in among:
            for imported in self.imports_of(file):
                reverse.setdefault(imported, []).append(file)
        found: set[Path] = set()
        todo = list(wanted)
        while todo:
            current = todo.pop()
            for importer in reverse.get(current, ()):
                if importer not in found and importer not in wanted:
                    found.add(importer)
                    todo.append(importer)
        return found

    # -- summaries --------------------------------------------------------------------------

    def summary(self, path: Path) -> dict | None:
        if path in self._summaries:
            return self._summaries[path]
        result = None
        if path.suffix == ".py":
            text = self.text(path)
            if text is not None:
                package = self.module_name(path)[1]
                key = hashlib.blake2b(f"{package}\0{self._words_key}\0{text}".encode("utf-8", "surrogatepass"),
                                      digest_size=16).hexdigest()
                result = self.store.get(key)
                if not isinstance(result, dict) or result.get("format") != SUMMARY_FORMAT:
                    result = summarise(text, package, self._word_text)
                    if result is not None:
                        self.new_summaries[key] = result
        self._summaries[path] = result
        return result

    # -- resolution -------------------------------------------------------------------------

    def resolve(self, raw: str, importer: Path | None, depth: int = 0) -> Symbol | None:
        """What the dotted name `raw`, as written in `importer`, is in the project; None when
        it is not the project's (a library, or nothing known)."""
        head = raw.split(".", 1)[0]
        if head in EXTERNAL or canonical(raw).flavor is not None:
            return None
        key = (raw, importer.parent if importer is not None else None)
        if key in self._resolved:
            return self._resolved[key]
        self._resolved[key] = None  # a cycle resolves to nothing
        result = self._resolve(raw, importer, depth)
        self._resolved[key] = result
        return result

    def _resolve(self, raw: str, importer: Path | None, depth: int) -> Symbol | None:
        if depth > MAX_DEPTH:
            return None
        parts = raw.split(".")
        for cut in range(len(parts), 0, -1):
            found = self.find(".".join(parts[:cut]), importer)
            if found is None:
                continue
            if found.is_dir():  # a namespace package: only its submodules are names
                return Symbol("module", found, "", ".".join(parts[:cut])) if cut == len(parts) else None
            name = self.module_name(found)[0]
            if cut == len(parts):
                return Symbol("module", found, "", name)
            return self.member(found, parts[cut], parts[cut + 1:], depth + 1)
        return None

    def member(self, path: Path, name: str, rest: list[str], depth: int) -> Symbol | None:
        """`name` (then the attributes `rest`) in the module at `path`."""
        if depth > MAX_DEPTH:
            return None
        summary = self.summary(path)
        if summary is None:
            return None
        module = self.module_name(path)[0]
        qual = f"{module}.{name}"
        if name in summary["refs"]:
            raws = summary["refs"][name]
            targets = {self._follow(r, rest, path, depth) for r in raws}
            return targets.pop() if len(targets) == 1 else None
        if rest and (name in summary["defs"] or name in summary["classes"] or name in summary["consts"]):
            return None  # an attribute of a function, class or constant: not followed
        if name in summary["defs"]:
            return Symbol("def", path, name, qual, summary["defs"][name])
        if name in summary["classes"]:
            return Symbol("class", path, name, qual, summary["classes"][name])
        if name in summary["consts"]:
            try:
                value = from_repr(summary["consts"][name])
            except Exception:  # noqa: BLE001
                return None
            return Symbol("const", path, name, qual, value=value)
        if name in summary["other"]:
            return None
        # A submodule (`from pkg import mod`), or a name a star import brings in.
        if path.name == "__init__.py":
            sub = self.find(f"{module}.{name}", path)
            if sub is not None and not sub.is_dir():
                if rest:
                    return self.member(sub, rest[0], rest[1:], depth + 1)
                return Symbol("module", sub, "", self.module_name(sub)[0])
        found = {self._follow(f"{star}.{name}", rest, path, depth) for star in summary["stars"]}
        found.discard(None)
        return found.pop() if len(found) == 1 else None

    def _follow(self, raw: str, rest: list[str], importer: Path, depth: int) -> Symbol | None:
        if raw.startswith("@."):  # a name of the module itself (`Alias = Block`)
            parts = [*raw[2:].split("."), *rest]
            return self.member(importer, parts[0], parts[1:], depth + 1)
        full = ".".join([raw, *rest])
        head = full.split(".", 1)[0]
        if head in EXTERNAL or canonical(full).flavor is not None or self.find(head, importer) is None:
            return Symbol("external", raw=full)  # a library the project imports
        return self.resolve(full, importer, depth + 1)

    def resolve_raw(self, raw: str, importer: Path | None) -> str:
        """`raw` as the model should see it: a library name a project module re-exports becomes
        the library's own path (so `canonical` knows it); a project symbol its defining path."""
        head = raw.split(".", 1)[0]
        if head in EXTERNAL or self.find(head, importer) is None:
            return raw
        got = self.resolve(raw, importer)
        if got is None:
            return raw
        return got.raw

    def symbol(self, qualname: str) -> Symbol | None:
        """The project symbol whose defining path `resolve_raw` gave."""
        module, _, name = qualname.rpartition(".")
        path = self._by_name.get(module)
        if path is None or path.is_dir():
            return None
        got = self.member(path, name, [], 0)
        return got if got is not None and got.raw == qualname else None

    def class_kind(self, sym: Symbol, depth: int = 0) -> tuple[str, tuple[str, ...]] | None:
        """("layer" | "model" | "constraint", the library bases' raw paths) for a project
        class deriving from a Keras Layer, Model or Constraint, through any chain of bases."""
        if sym.kind != "class" or sym.path is None or depth > MAX_DEPTH:
            return None
        key = (sym.path, sym.name)
        if key in self._kinds:
            return self._kinds[key]
        self._kinds[key] = None
        result = None
        for base in sym.info.get("bases", ()):
            if base is None:
                continue
            got = self._base(sym.path, base, depth)
            if got is not None:
                result = got
                break
        self._kinds[key] = result
        return result

    def _base(self, path: Path, base: str, depth: int) -> tuple[str, tuple[str, ...]] | None:
        target = self.lookup(path, base, depth + 1)
        if target is None:
            return None
        if target.kind == "external":
            kind = keras_class_kind(target.raw)
            return (kind, (target.raw,)) if kind else None
        return self.class_kind(target, depth + 1)

    def lookup(self, path: Path, dotted: str, depth: int = 0) -> Symbol | None:
        """A dotted name as written at module level in the file `path`."""
        head, _, rest = dotted.partition(".")
        return self.member(path, head, rest.split(".") if rest else [], depth)

    def bases_of(self, sym: Symbol) -> list[Symbol]:
        """The project classes `sym` derives from directly."""
        found = []
        for base in sym.info.get("bases", ()) if sym.info else ():
            if base is not None:
                target = self.lookup(sym.path, base)
                if target is not None and target.kind == "class":
                    found.append(target)
        return found

    def touches(self, sym: Symbol, depth: int = 0) -> bool:
        """Does the function or class use Keras, TensorFlow or NumPy names, directly or
        through the project functions and classes it uses?"""
        if sym.kind not in ("def", "class") or sym.info is None:
            return False
        if sym.info.get("touches"):
            return True
        if depth > MAX_DEPTH:
            return False
        key = (sym.path, sym.name)
        if key in self._touch:
            return self._touch[key]
        self._touch[key] = False
        result = False
        for name in sym.info.get("uses", ()):
            head, _, attr = name.partition(".")
            other = self.member(sym.path, head, [attr] if attr else [], depth + 1)
            if other is None and attr:
                other = self.member(sym.path, head, [], depth + 1)
            if other is not None and (other.kind == "external" or self.touches(other, depth + 1)):
                result = True
                break
        self._touch[key] = result
        return result

    # -- values -----------------------------------------------------------------------------

    def returns(self, sym: Symbol, args: dict[str, Summary] | None = None, depth: int = 0) -> Summary:
        """What calling the function `sym` returns, in the picture's terms; `args` maps its
        parameters to what a call gives them (a parameter left out gets its literal default;
        one not known is a "param" value)."""
        if sym.kind != "def" or sym.info is None or depth > MAX_DEPTH:
            return UNKNOWN
        bound: dict[str, Summary] = {}
        for name, _kind, default, has_default in sym.info.get("params", ()):
            if args is not None and name in args:
                bound[name] = args[name]
            elif args is not None and has_default and default is not None:
                bound[name] = Summary("literal", lit=from_repr(default))
            elif args is not None:
                bound[name] = UNKNOWN
            else:
                bound[name] = Summary("param", params=frozenset({name}))
        key = (sym.path, sym.name, tuple(sorted(bound.items(), key=lambda kv: kv[0])))
        try:
            hash(key)
        except TypeError:
            key = None
        if key is not None and key in self._values:
            return self._values[key]
        if key is not None:
            self._values[key] = RECURSION
        result = self.value(sym.info.get("returns", UNKNOWN_DESC), bound, sym.path, depth + 1)
        if result is RECURSION:
            result = UNKNOWN
        if key is not None:
            self._values[key] = result
        return result

    def value(self, desc: list, env: dict[str, Summary], path: Path, depth: int = 0) -> Summary:
        """A return description (see `_Describer`) evaluated in the module at `path`."""
        if depth > MAX_DEPTH or not isinstance(desc, list) or not desc:
            return UNKNOWN
        tag = desc[0]
        rec = lambda d: self.value(d, env, path, depth + 1)
        where = lambda d: (str(path), d[-2], d[-1])
        if tag == "literal":
            try:
                return Summary("literal", lit=from_repr(desc[1]))
            except Exception:  # noqa: BLE001
                return UNKNOWN
        if tag == "param":
            return env.get(desc[1], UNKNOWN)
        if tag == "input":
            return Summary("tensor", kt=True, layer="keras.Input", where=where(desc))
        if tag in ("layer", "model"):
            return Summary(tag, layer=desc[1], where=where(desc))
        if tag == "kt":
            origin = desc[1]
            if origin == "input":
                return Summary("tensor", kt=True)
            if isinstance(origin, list):
                values = [env.get(p, UNKNOWN) for p in origin[1:]]
                kt = any(v.kt for v in values)
                params = frozenset().union(*(v.params for v in values if v.kind == "param")) if not kt else frozenset()
                return Summary("tensor", kt=kt, params=params) if kt or params else UNKNOWN
            return UNKNOWN
        if tag == "ref":
            target = self._target(desc[1], path, depth)
            if target is not None and target.kind == "const":
                return Summary("literal", lit=target.value)
            return UNKNOWN
        if tag == "seq":
            return Summary("seq", items=tuple(rec(d) for d in desc[1]))
        if tag == "union":
            return _union_values([rec(d) for d in desc[1]])
        if tag == "op":
            values = [rec(d) for d in desc[2]]
            flat = [i for v in values for i in (v.items if v.kind == "seq" else (v,))]
            kt = any(v.kt for v in flat)
            params = frozenset().union(*(v.params for v in flat if v.kind in ("param", "tensor"))) \
                if not kt else frozenset()
            if kt or params:
                return Summary("tensor", kt=kt, params=params)
            lib = desc[1].split(".", 1)[0]
            if lib in ("tensorflow", "numpy"):
                return Summary("const", lib="tf" if lib == "tensorflow" else "numpy")
            return UNKNOWN
        if tag == "apply":
            callee, inp = rec(desc[1]), rec(desc[2])
            if callee.kind not in ("layer", "model"):
                return UNKNOWN
            kt = inp.kt or any(i.kt for i in inp.items)
            params = inp.params if inp.kind in ("param", "tensor") and not kt else frozenset()
            if not kt and not params:
                return Summary("tensor", layer=callee.layer, where=where(desc))
            return Summary("tensor", kt=kt, params=params, layer=callee.layer, where=where(desc))
        if tag == "call":
            target = self._target(desc[1], path, depth)
            if target is None:
                return UNKNOWN
            if target.kind == "class":
                kind = self.class_kind(target, depth + 1)
                if kind is not None and kind[0] in ("layer", "model"):
                    return Summary(kind[0], layer=target.raw, where=where(desc))
                return UNKNOWN
            if target.kind != "def" or desc[2] is None:
                return UNKNOWN
            params = [p[0] for p in target.info.get("params", ()) if p[1] == "pos"]
            call_args: dict[str, Summary] = {}
            for name, arg in zip(params, desc[2]):
                call_args[name] = rec(arg)
            for key, arg in desc[3].items():
                call_args[key] = rec(arg)
            return self.returns(target, call_args, depth + 1)
        return UNKNOWN

    def _target(self, raw: str, path: Path, depth: int) -> Symbol | None:
        if raw.startswith("@."):
            return self.lookup(path, raw[2:], depth + 1)
        head, _, _rest = raw.partition(".")
        summary = self.summary(path)
        if summary is None:
            return None
        if head in EXTERNAL or canonical(raw).flavor is not None:
            return None
        return self.resolve(raw, path, depth + 1)

    # -- for the picture ----------------------------------------------------------------------

    def view(self, path: Path | None) -> View | None:
        if path is None:
            return None
        path = _abs(path)
        if path.suffix == ".ipynb":
            return View(self, path, path.stem, None)
        name, package = self.module_name(path)
        return View(self, path, name, package)

    def keep_names(self, tree: ast.Module, path: Path, words: Iterable[bytes],
                   stmts: Iterable[ast.stmt] | None = None) -> tuple[str, ...]:
        """Names the file binds (by imports) to project functions, classes or modules that hold one
        of `words` (in what they reach: `_symbol_bits`): functions that use them are worth parsing.
        `stmts`: the file's statements, if the caller has walked them already."""
        wanted = set(words)
        mask = sum(1 << i for i, w in enumerate(self.words) if w in wanted)
        if not mask:
            return ()
        path = _abs(path)
        view = self.view(path)
        scan = self.scan(path)
        found = []
        for node in (stmts if stmts is not None else _statements(tree.body)):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for alias in node.names:
                if alias.name == "*":
                    continue
                if isinstance(node, ast.Import):
                    dotted = alias.name
                    local = alias.asname or alias.name.split(".")[0]
                else:
                    module = absolute(node.module, node.level, view.package if view else None)
                    if module is None:
                        continue
                    dotted = f"{module}.{alias.name}"
                    local = alias.asname or alias.name
                sym = self.resolve(dotted, path)
                bits = self._symbol_bits(sym) if sym is not None and scan is not None \
                    and self._reached(sym, local, scan) else 0
                if bits & mask:
                    found.append(local)
        return tuple(dict.fromkeys(found))


def keras_class_kind(raw: str) -> str | None:
    """The kind of Keras class a library base is: "layer" | "model" | "constraint" | None."""
    canon = canonical(raw)
    return keras_class_kind_of(canon) if canon.flavor is not None else None


@dataclass
class View:
    """The index as one file sees it: its module name and package, and its own imports."""

    index: Index
    path: Path
    module: str
    package: str | None
    loads: int = field(default=0)  # foreign definitions parsed for this file (a budget)

    def resolve_raw(self, raw: str) -> str:
        return self.index.resolve_raw(raw, self.path)

    def symbol(self, qualname: str) -> Symbol | None:
        return self.index.symbol(qualname)
