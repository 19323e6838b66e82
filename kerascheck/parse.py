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


def blank_unneeded(text: str, tree: ast.Module, keep: tuple[str, ...]) -> tuple[str, list[ast.stmt]]:
    """Blank the functions (and methods) in which no keep word occurs.

    Returns the text and the top-level statements that are left of it.
    """
    lines = text.splitlines(keepends=True)
    if not lines:
        return text, list(tree.body)
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
            _blank_class(node, lines, has_keep, blank)
        kept.append(node)
    return "".join(lines), kept


def _blank_class(node: ast.ClassDef, lines: list[str], has_keep, blank) -> None:
    body = node.body
    if body[0].lineno == node.lineno:  # `class A: pass` on one line
        return
    header_start, _ = _span(node)
    if has_keep(header_start, _span(body[0])[0] - 1):
        return  # the bases or decorators mention a keep word: keep it whole
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


_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
             ast.With, ast.AsyncWith, ast.Try, getattr(ast, "TryStar", ast.Try), ast.Match)


def _starts(top: list[ast.stmt]) -> list[int]:
    """First line of each top-level statement as libcst sees them (`a; b` is one)."""
    starts: list[int] = []
    simple_end = None
    for node in top:
        if isinstance(node, _COMPOUND):
            starts.append(_span(node)[0])
            simple_end = None
        else:
            if simple_end != node.lineno:
                starts.append(node.lineno)
            simple_end = node.end_lineno
    return starts


def parse_lines(text: str, filename: str, keep: tuple[str, ...] | None) -> tuple[cst.Module, list[int]]:
    """Check the syntax and parse with libcst (`keep=None`: everything).

    Also returns the first line of each of the module's top-level statements,
    so positions can be computed one statement at a time (positions.py).
    """
    tree = check_syntax(text, filename)
    partial, top = (text, list(tree.body)) if keep is None else blank_unneeded(text, tree, keep)
    try:
        return cst.parse_module(partial), _starts(top)
    except cst.ParserSyntaxError as exc:
        raise Unreadable(f"syntax error: {exc.message}", exc.raw_line, exc.raw_column + 1) from None
    except (RecursionError, MemoryError):
        raise Unreadable("too deeply nested to parse") from None


def parse(text: str, filename: str, keep: tuple[str, ...] | None) -> cst.Module:
    return parse_lines(text, filename, keep)[0]
