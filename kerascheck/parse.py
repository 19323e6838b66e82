"""Parse once, and only what the rules can need.

The stdlib `ast` checks the syntax and finds the top-level statements (it is
about twenty times faster than libcst and refuses pathological nesting that
would crash libcst's native parser). Functions and methods that contain none
of the rules' keep words are blanked line by line, so line and column numbers
stay exact, and libcst parses what is left.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass

import libcst as cst

from kerascheck.source import Unreadable

# Methods a Keras class is made of: kept whenever the class is kept, because
# `call()` wires up sublayers by attribute name only (`self.bn(self.drop(x))`).
STRUCTURAL = frozenset({"__init__", "build", "call", "__call__"})


def check_syntax(text: str, filename: str) -> ast.Module:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, filename)
    except SyntaxError as exc:
        kind = "indentation error" if isinstance(exc, IndentationError) else "syntax error"
        msg = exc.msg or "invalid syntax"
        raise Unreadable(f"{kind}: {msg}", exc.lineno or 1, exc.offset or 1) from None
    except (RecursionError, MemoryError):
        raise Unreadable("too deeply nested to parse") from None
    except ValueError as exc:  # e.g. source code string cannot contain null bytes
        raise Unreadable(f"cannot parse: {exc}") from None


def _span(node: ast.stmt) -> tuple[int, int]:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())])
    return start, node.end_lineno or node.lineno


def _statements(body):
    """Every statement, nested ones included, without visiting expressions."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            stack.extend(getattr(node, name, ()))


def alias_words(tree: ast.Module, keep: tuple[str, ...]) -> tuple[str, ...]:
    """Names the file binds to something a keep word names.

    `from tensorflow.keras.layers import Dropout as Drop` makes `Drop` as good
    a reason to keep a function as `Dropout` itself; so does `Drop = L.Dropout`.
    """
    extra = []
    for node in _statements(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", None) or ""
            for alias in node.names:
                if alias.asname and any(w in f"{module}.{alias.name}" for w in keep):
                    extra.append(alias.asname)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if isinstance(node.value, (ast.Name, ast.Attribute)):
                value = ast.unparse(node.value)
                if any(w in value for w in keep):
                    extra.append(node.targets[0].id)
    return tuple(extra)


def blank_unneeded(text: str, tree: ast.Module, keep: tuple[str, ...]):
    """Blank the functions (and methods) in which no keep word occurs.

    Returns the text, the top-level statements left of it, and for each
    top-level class (by id) the members left of it.
    """
    lines = text.splitlines(keepends=True)
    members: dict[int, list[ast.stmt]] = {}
    if not lines:
        return text, list(tree.body), members
    kept = []
    keep = keep + alias_words(tree, keep)

    def has_keep(start: int, end: int) -> bool:
        chunk = "".join(lines[start - 1 : end])
        return any(word in chunk for word in keep)

    def blank(start: int, end: int) -> None:
        for i in range(start - 1, end):
            line = lines[i]
            ending = line[len(line.rstrip("\r\n")) :]
            lines[i] = ending

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start, end = _span(node)
            if not has_keep(start, end):
                blank(start, end)
                continue
        elif isinstance(node, ast.ClassDef):
            members[id(node)] = _blank_class(node, lines, has_keep, blank)
        kept.append(node)
    return "".join(lines), kept, members


def _blank_class(node: ast.ClassDef, lines: list[str], has_keep, blank) -> list[ast.stmt]:
    """Blank the members no rule needs; returns the members left (a lone `pass`: [])."""
    body = node.body
    if body[0].lineno == node.lineno:  # `class A: pass` on one line
        return body
    header_start, _ = _span(node)
    if has_keep(header_start, _span(body[0])[0] - 1):
        return body  # the bases or decorators mention a keep word: keep it whole
    whole = has_keep(header_start, node.end_lineno or node.lineno)
    removed = []
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start, end = _span(stmt)
            structural = whole and stmt.name in STRUCTURAL and not isinstance(stmt, ast.ClassDef)
            if not structural and not has_keep(start, end):
                blank(start, end)
                removed.append(stmt)
        elif not whole:
            start, end = _span(stmt)
            blank(start, end)
            removed.append(stmt)
    if len(removed) == len(body):
        first = body[0]
        start, _ = _span(first)
        # `first` was blanked; its old first line becomes the body's `pass`.
        indent = " " * first.col_offset
        lines[start - 1] = indent + "pass" + (lines[start - 1] or "\n")
    return [stmt for stmt in body if stmt not in removed]


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
             ast.With, ast.AsyncWith, ast.Try, getattr(ast, "TryStar", ast.Try), ast.Match)


@dataclass(frozen=True)
class Top:
    """Where a top-level statement of the parsed module starts.

    `members`, for a class, gives each statement of its body the line of its
    `def`/`class` keyword (None for other statements).
    """

    start: int
    members: tuple[int | None, ...] | None = None


def _group(stmts: list[ast.stmt]) -> list[list[ast.stmt]]:
    """ast statements grouped as libcst sees them (`a; b` is one statement line)."""
    groups: list[list[ast.stmt]] = []
    simple_end = None
    for node in stmts:
        if isinstance(node, _COMPOUND):
            groups.append([node])
            simple_end = None
        else:
            if simple_end == node.lineno and groups:
                groups[-1].append(node)
            else:
                groups.append([node])
            simple_end = node.end_lineno
    return groups


def _layout(top: list[ast.stmt], members: dict[int, list[ast.stmt]]) -> list[Top]:
    layout = []
    for group in _group(top):
        node = group[0]
        inner = None
        if isinstance(node, ast.ClassDef):
            kept = members.get(id(node), node.body)
            inner = tuple(g[0].lineno if isinstance(g[0], _DEFS) else None for g in _group(kept)) if kept else (None,)
        layout.append(Top(_span(node)[0], inner))
    return layout


def parse_lines(text: str, filename: str, keep: tuple[str, ...] | None) -> tuple[cst.Module, list[Top]]:
    """Check the syntax and parse with libcst (`keep=None`: everything).

    Also returns where each of the module's top-level statements starts, so
    positions can be computed one statement at a time (positions.py).
    """
    tree = check_syntax(text, filename)
    if keep is None:
        partial, top, members = text, list(tree.body), {}
    else:
        partial, top, members = blank_unneeded(text, tree, keep)
    try:
        return cst.parse_module(partial), _layout(top, members)
    except cst.ParserSyntaxError as exc:
        raise Unreadable(f"syntax error: {exc.message}", exc.raw_line, exc.raw_column + 1) from None
    except (RecursionError, MemoryError):
        raise Unreadable("too deeply nested to parse") from None


def parse(text: str, filename: str, keep: tuple[str, ...] | None) -> cst.Module:
    return parse_lines(text, filename, keep)[0]
