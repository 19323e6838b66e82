"""Parse once, and only what the rules can need.

The stdlib `ast` checks the syntax and finds the top-level statements (it is
about twenty times faster than libcst and refuses pathological nesting that
would crash libcst's native parser). Functions and methods that contain none
of the rules' keep words are blanked line by line, so line and column numbers
stay exact, and libcst parses what is left.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass

import libcst as cst

from kerascheck.lines import byte_starts, count_breaks, split_lines
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
    except RecursionError:
        raise Unreadable("too deeply nested to parse") from None
    except MemoryError:
        if _could_fill_memory(text):
            raise  # the worker's memory cap: its caller says so
        # CPython's parser also raises MemoryError past its nesting limit (`-` * 100000).
        raise Unreadable("too deeply nested to parse") from None
    except ValueError as exc:  # e.g. source code string cannot contain null bytes
        raise Unreadable(f"cannot parse: {exc}") from None


AST_BYTES_PER_CHAR = 300  # about what `ast` needs (a 1 MB list literal: 312 MB)
# Set in a guarded worker only (kerascheck/workers.py): the bytes its cap allows beyond what it
# inherited from the process that forked it, which may be large (a test suite, an editor).
DATA_HEADROOM: int | None = None


def _could_fill_memory(text: str) -> bool:
    """Could `ast` on `text` have used half of this process's data limit (a worker's cap)?"""
    if DATA_HEADROOM is not None:
        return len(text) * AST_BYTES_PER_CHAR > DATA_HEADROOM // 2
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_DATA)[0]
    except (ImportError, OSError, ValueError):
        return False
    return limit != resource.RLIM_INFINITY and len(text) * AST_BYTES_PER_CHAR > limit // 2


# Shapes that crash or stall libcst's native parser, refused before it sees them, counted on the
# `ast` tree of the syntax check. Chains: libcst's time grows about with the cube of their length
# and its stack overflows (SIGSEGV) on long ones; literals: time and memory grow with their size.
# Measured on libcst 1.9 by tests/measurements/libcst_limits.py (its output: libcst_limits.out).
LIMITS = {
    "boolean": (2000, "operands in one and/or expression"),
    "binary": (500, "operators in one chain of binary operations (a + b - c ...)"),
    "primary": (300, "attribute, call and subscript accesses in one chain (a.b(c)[d] ...)"),
    "unary": (400, "unary operators in one chain (not not ... x, - - ... x)"),
    "conditional": (400, "conditional expressions nested in one another (a if b else c if d else ...)"),
    "lambda": (400, "lambdas nested in one another (lambda: lambda: ...)"),
    "literal": (20_000, "elements in one literal (a dict entry counts two) or arguments in one call"),
}


def _chain_children(node: ast.AST, kind: str | None, count: int):
    """(child, the chain it continues, that chain's count so far) for a node of family `kind`."""
    for child in ast.iter_child_nodes(node):
        if not child._fields:  # Load, Add, And, ...
            continue
        if kind == "primary" and child is not getattr(node, "func", getattr(node, "value", None)):
            yield child, None, 0  # an argument or an index starts afresh
        else:
            yield child, kind, count


def refuse_complex(text: str, top: list[ast.stmt], members: dict[int, list[ast.stmt]]) -> None:
    """Raise Unreadable if the statements that will reach libcst (`top`, and of each class the
    `members` kept) hold a shape over LIMITS.

    A node is entered only if its source is long enough to hold a shape over a limit: a unary
    step takes a byte of source (`-`), any other step or element two (`.b`, `()`, `+1`, `1,`).
    So ordinary code costs a look at its few long statements."""
    room = min(LIMITS["unary"][0], 2 * min(limit for kind, (limit, _) in LIMITS.items() if kind != "unary"))
    if len(text) <= room:
        return
    starts = byte_starts(text)
    stack: list[tuple[ast.AST, str | None, int]] = []
    for node in top:
        if isinstance(node, ast.ClassDef) and id(node) in members:
            stack.extend((part, None, 0) for part in (*node.bases, *node.keywords, *node.decorator_list))
            stack.extend((member, None, 0) for member in members[id(node)])
        else:
            stack.append((node, None, 0))
    while stack:
        node, chain, count = stack.pop()
        end = getattr(node, "end_lineno", None)
        if end is not None and (starts[end - 1] + node.end_col_offset - starts[node.lineno - 1]
                                - node.col_offset) + 2 * count <= room:
            continue  # too short to take a chain, even the one it continues, over its limit
        kind = None
        width = 0
        if isinstance(node, ast.BinOp):
            kind = "binary"
        elif isinstance(node, ast.BoolOp):
            kind, width = "boolean", len(node.values)
        elif isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
            kind = "primary"
        elif isinstance(node, ast.UnaryOp):
            kind = "unary"
        elif isinstance(node, ast.IfExp):
            kind = "conditional"
        elif isinstance(node, ast.Lambda):
            kind = "lambda"
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            width = len(node.elts)
        elif isinstance(node, ast.Dict):
            width = 2 * len(node.keys)
        elif isinstance(node, ast.Call):
            width = len(node.args) + len(node.keywords)
        if kind is not None:
            count = (count if chain == kind else 0) + (width if kind == "boolean" else 1)
            if count > LIMITS[kind][0]:
                _refuse(kind, node, text)
        if width > LIMITS["literal"][0] and kind != "boolean":
            _refuse("literal", node, text)
        stack.extend(_chain_children(node, kind, count))


def _refuse(kind: str, node: ast.AST, text: str) -> None:
    limit, what = LIMITS[kind]
    lines = split_lines(text)
    line = lines[node.lineno - 1] if node.lineno <= len(lines) else ""
    column = len(line.encode("utf-8", "surrogatepass")[: node.col_offset].decode("utf-8", "replace")) + 1
    raise Unreadable(f"too complex to parse safely: more than {limit} {what}", node.lineno, column)


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


TIE_DEPTH = 5  # calls followed from (and back to) relevant code: the picture inlines helpers as deep
# `name(` (not `x.name(`), and `self.name(`: one scan finds both.
_CALLED = re.compile(r"(?<![\w.])([A-Za-z_]\w*+)\s*+\(|\bself\.([A-Za-z_]\w*+)\s*+\(")


def _tied(tree: ast.Module, lines: list[str], keep: tuple[str, ...]) -> frozenset[int]:
    """First lines of the file's functions, methods and classes tied to relevant code (code
    with a keep word) through calls, up to TIE_DEPTH calls away: the functions that call it,
    where the analysis of a layer's `call()` starts, and the functions it or they call
    (`helper(`, `self.helper(`, `Block(`), where the picture follows values in: a caller hands
    what relevant code made (`fuse(make_inputs())`) to its own helpers. Module-level code with a
    keep word counts as relevant code for what it calls."""
    units: list[tuple[int, str, bool, str]] = []  # (first line, name, is a method, code)
    unit_nodes: list[ast.AST] = []
    module_level: list[str] = []
    for node in tree.body:
        start, end = _span(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            units.append((start, node.name, False, "".join(lines[start - 1 : end])))
            unit_nodes.append(node)
        else:
            module_level.append("".join(lines[start - 1 : end]))
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    start, end = _span(member)
                    units.append((start, member.name, True, "".join(lines[start - 1 : end])))
                    unit_nodes.append(member)
    if not units:
        return frozenset()
    by_name: dict[tuple[str, bool], list[int]] = {}
    for i, (_, name, method, _) in enumerate(units):
        by_name.setdefault((name, method), []).append(i)

    def callees(code: str) -> set[int]:
        found = set()
        for name, method in _CALLED.findall(code):
            found.update(by_name.get((name, False) if name else (method, True), ()))
        return found

    calls = [callees(code) for _, _, _, code in units]
    relevant = {i for i, (_, _, _, code) in enumerate(units) if any(w in code for w in keep)}
    tied = set(relevant)
    frontier = set(relevant)
    for _ in range(TIE_DEPTH):  # what calls relevant code
        frontier = {i for i, c in enumerate(calls) if i not in tied and c & frontier}
        if not frontier:
            break
        tied |= frontier
    top = "".join(module_level)
    # A class's text holds all its methods: a class that is only a caller adds what its tied
    # methods call (they are units of their own), not what every method calls.
    classes = {i for i, node in enumerate(unit_nodes) if isinstance(node, ast.ClassDef)}
    frontier = set().union(*(calls[i] for i in tied if i not in classes or i in relevant)) | (
        callees(top) if any(w in top for w in keep) else set())
    for _ in range(TIE_DEPTH):  # what relevant code and its callers call
        frontier -= tied
        if not frontier:
            break
        tied |= frontier
        frontier = set().union(*(calls[i] for i in frontier))
    return frozenset(units[i][0] for i in tied)


def alias_words(tree: ast.Module, keep: tuple[str, ...], stmts: list[ast.stmt] | None = None) -> tuple[str, ...]:
    """Names the file binds to something a keep word names.

    `from tensorflow.keras.layers import Dropout as Drop` makes `Drop` as good
    a reason to keep a function as `Dropout` itself; so does `Drop = L.Dropout`.
    """
    extra = []
    for node in stmts if stmts is not None else _statements(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", None) or ""
            for alias in node.names:
                if alias.asname and any(w in f"{module}.{alias.name}" for w in keep):
                    extra.append(alias.asname)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _dotted(node.value)  # a loop, not ast.unparse: no recursion on deep chains
            if value is not None and any(w in value for w in keep):
                extra.append(node.targets[0].id)
    return tuple(extra)


# String literals (triple-quoted first) and comments, in one left-to-right scan: a `#` inside a
# string is part of the string, a quote inside a comment part of the comment.
# A line ends at \n, \r\n or \r (kerascheck.lines), so a comment or one-line string stops at either.
_NOT_CODE = re.compile(r'''"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\r\n])*"|'(?:\\.|[^'\\\r\n])*'|\#[^\r\n]*''')


def _blank_match(match: re.Match) -> str:
    text = match.group()
    return "\n" * count_breaks(text)


def _code_lines(lines: list[str]) -> list[str]:
    """The lines with string literals (docstrings, messages) and comments taken out: a word in
    a docstring's example (`>>> tf.keras.Input(...)`), an error message or a comment is not a
    use. Line breaks inside strings are kept, so line numbers stay those of the file."""
    code = _NOT_CODE.sub(_blank_match, "".join(lines))
    out = split_lines(code, keepends=True)
    out.extend("\n" for _ in range(len(lines) - len(out)))  # a trailing string without a line break
    return out


def blank_unneeded(text: str, tree: ast.Module, keep: tuple[str, ...], closure: bool = False,
                   stmts: list[ast.stmt] | None = None, alone: tuple[str, ...] = ()):
    """Blank the functions (and methods) in which no keep word occurs.

    With `closure`, a function is also kept when a kept one calls it by name (`helper(`,
    `self.helper(`), or when it calls a kept one, or instantiates a kept class. A function
    with one of the `alone` words is kept by itself: no closure, and its class's structural
    methods are not kept for it (the words of rules with `ties=False`).

    Returns the text, the top-level statements left of it, and for each
    top-level class (by id) the members left of it.
    """
    lines = split_lines(text, keepends=True)
    members: dict[int, list[ast.stmt]] = {}
    if not lines:
        return text, list(tree.body), members
    kept = []
    keep = keep + alias_words(tree, keep, stmts)
    if alone:
        alone = alone + alias_words(tree, alone, stmts)
    code = _code_lines(lines)
    tied = _tied(tree, code, keep) if closure else frozenset()

    def has_keep(start: int, end: int, tie: bool = True, words: tuple[str, ...] = keep + alone) -> bool:
        if tie and start in tied:
            return True
        chunk = "".join(code[start - 1 : end])
        return any(word in chunk for word in words)

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
            members[id(node)] = _blank_class(node, lines, has_keep, blank, keep)
        kept.append(node)
    return "".join(lines), kept, members


def _blank_class(node: ast.ClassDef, lines: list[str], has_keep, blank, keep: tuple[str, ...]) -> list[ast.stmt]:
    """Blank the members no rule needs; returns the members left (a lone `pass`: [])."""
    body = node.body
    if body[0].lineno == node.lineno:  # `class A: pass` on one line
        return body
    header_start, _ = _span(node)
    if has_keep(header_start, _span(body[0])[0] - 1, tie=False):
        return body  # the bases or decorators mention a keep word: keep it whole
    whole = has_keep(header_start, node.end_lineno or node.lineno, words=keep)
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
    refuse_complex(text, top, members)
    partial, shifts = formfeed_indents(partial, tree)
    return _libcst(partial, shifts), _layout(top, members)


def _libcst(partial: str, shifts: dict[int, int] | None = None) -> cst.Module:
    """libcst's parse; its errors as Unreadable. A MemoryError is left to the caller: the worker
    that runs this reports it as its memory limit. `shifts`: formfeed_indents' (registered)."""
    try:
        module = cst.parse_module(partial)
        if shifts:
            _register_shifts(module, shifts)
        return module
    except cst.ParserSyntaxError as exc:
        raise Unreadable(f"syntax error: {exc.message}", exc.raw_line, exc.raw_column + 1) from None
    except RecursionError:
        raise Unreadable("too deeply nested to parse") from None
    except BaseException as exc:
        if type(exc).__name__ == "PanicException":  # pyo3: a Rust panic, a BaseException
            raise Unreadable(f"parser crashed (panic: {exc})") from None
        raise


def formfeed_indents(text: str, tree: ast.Module) -> tuple[str, dict[int, int]]:
    """`text` for libcst, whose tokenizer counts a form feed in a line's indentation (Python's
    resets the column there, so `\\f    x` is indented by 4): on each line, the leading
    whitespace up to its last form feed is removed, and the lines that moved left are returned
    with by how much (line -> characters), to be added back to libcst's columns
    (`column_shifts`). Lines inside a multi-line string keep theirs: that is the string's text."""
    if "\x0c" not in text:
        return text, {}
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Constant, ast.JoinedStr)) and (node.end_lineno or node.lineno) > node.lineno:
            inside.update(range(node.lineno + 1, node.end_lineno + 1))
    lines = split_lines(text, keepends=True)
    shifts: dict[int, int] = {}
    for number, line in enumerate(lines, 1):
        lead = len(line) - len(line.lstrip(" \t\x0c"))
        cut = line.rfind("\x0c", 0, lead) + 1
        if cut and number not in inside:
            lines[number - 1] = line[cut:]
            shifts[number] = cut
    return ("".join(lines), shifts) if shifts else (text, {})


_SHIFTED: list[tuple[cst.Module, dict[int, int]]] = []  # the latest modules parsed with shifts


def _register_shifts(module: cst.Module, shifts: dict[int, int]) -> None:
    _SHIFTED.insert(0, (module, shifts))
    del _SHIFTED[16:]


def column_shifts(module: cst.Module) -> dict[int, int]:
    """For a module parsed here: the lines whose leading form feeds libcst did not see, and how
    many characters to add to its columns on each (see formfeed_indents); usually none."""
    for known, shifts in _SHIFTED:
        if known is module:
            return shifts
    return {}


@dataclass(frozen=True)
class Parsed:
    module: cst.Module
    layout: list[Top]
    statements: int  # top-level statements and class members handed to libcst


def parse_relevant(text: str, filename: str, rules, cache: StatementCache | None = None, project=None) -> Parsed:
    """Parse what `rules` can need (all of it when `rules` is None, or a rule has no anchors).

    The `ast` tree of the syntax check gives the file's import table; each rule's anchors
    (canonical names, method names, plain words) become this file's own spellings of them,
    and only the functions and methods that use one, plus the functions those call and the
    structural methods of their classes, reach libcst. With a `cache` (an editor's buffer),
    only the top-level statements that changed since its last parse do. With `project` (a
    project.View), the names the file imports from project modules that hold a rule's prefilter
    words are keep words too (a call of an imported block, a class derived from an imported base).
    """
    tree = check_syntax(text, filename)
    stmts = list(_statements(tree.body)) if rules is not None else None  # walked once, read twice
    words = narrow = None
    if rules is not None:
        wide = [r for r in rules if r.ties]
        memo: dict = {}
        words = anchor_words(tree, wide, stmts, memo) if wide else ()
        alone = [r for r in rules if not r.ties]
        narrow = anchor_words(tree, alone, stmts, memo) if alone else ()
    if words is not None and project is not None:
        # What a helper module holds, not what it imports: `import tensorflow` is everywhere.
        # Kept with their ties: an imported block's call is followed into the helpers around it.
        needs = {w for rule in rules for w in rule.words
                 if b"import" not in w and w not in (b"numpy", b"tf.keras", b"tensorflow", b"Layer", b"Model")}
        words = tuple(sorted({*words, *project.index.keep_names(tree, project.path, needs, stmts)}))
    if words is None or narrow is None:
        partial, top, members = text, list(tree.body), {}
    else:
        partial, top, members = blank_unneeded(text, tree, words, closure=True, stmts=stmts, alone=narrow)
    refuse_complex(text, top, members)
    partial, shifts = formfeed_indents(partial, tree)
    layout = _layout(top, members)
    module = cache.parse(partial, layout) if cache is not None else None
    if module is None:
        module = _libcst(partial, shifts)
    elif shifts:
        _register_shifts(module, shifts)
    count = sum(len(members.get(id(node), ())) if isinstance(node, ast.ClassDef) else 1 for node in top)
    return Parsed(module, layout, count)


class StatementCache:
    """The libcst parses of one buffer's top-level statements, by their text, for an editor
    that checks the same buffer after every edit: an edit re-parses only the statements it
    touched (libcst's parse is most of a check's time).

    The module is assembled from one parse per top-level statement: each chunk of text runs
    from a statement's first line to the next one's, so the blank and comment lines after a
    statement fall where libcst puts them in the whole module (its block's footer, or the
    chunk's footer, which becomes the next statement's leading lines). Identical to
    `cst.parse_module(text)` (tests/test_statement_cache.py compares them on real code); whatever
    could differ (no statements, a chunk that is not one statement, indentation or line
    endings that differ between chunks, any error) returns None: parse the whole text.
    Only the chunks of the latest text are kept.
    """

    def __init__(self) -> None:
        self._chunks: dict[str, cst.Module] = {}

    def parse(self, text: str, layout: list[Top]) -> cst.Module | None:
        lines = split_lines(text, keepends=True)
        bounds = [1] + [top.start for top in layout[1:]] + [len(lines) + 1]
        if not layout or any(a >= b for a, b in zip(bounds, bounds[1:])):
            return None
        texts = ["".join(lines[begin - 1 : end - 1]) for begin, end in zip(bounds, bounds[1:])]
        previous, self._chunks = self._chunks, {}
        chunks = []
        try:
            for chunk in texts:
                if chunk in self._chunks:  # the same text twice: parsed again, so no node is shared
                    chunks.append(cst.parse_module(chunk))
                    continue
                parsed = previous.get(chunk)
                if parsed is None:
                    parsed = cst.parse_module(chunk)
                    if parsed.code != chunk:  # libcst drops a comment line in some module footers
                        return None
                self._chunks[chunk] = parsed
                chunks.append(parsed)
        except Exception:  # a syntax error is reported from the whole text, where its line is right
            return None
        return _assemble(chunks, texts)


def _assemble(chunks: list[cst.Module], texts: list[str]) -> cst.Module | None:
    if any(len(c.body) != 1 for c in chunks) or any(c.header for c in chunks[1:]):
        return None
    indents = {c.default_indent for c in chunks if isinstance(c.body[0], cst.BaseCompoundStatement)}
    newlines = {c.default_newline for c, text in zip(chunks, texts) if "\n" in text or "\r" in text}
    if len(indents) > 1 or len(newlines) > 1:
        return None
    body = [chunks[0].body[0]]
    for before, chunk in zip(chunks, chunks[1:]):
        stmt = chunk.body[0]
        if before.footer:
            stmt = stmt.with_changes(leading_lines=(*before.footer, *stmt.leading_lines))
        body.append(stmt)
    first, last = chunks[0], chunks[-1]
    return cst.Module(body=body, header=first.header, footer=last.footer, encoding=first.encoding,
                      default_indent=indents.pop() if indents else first.default_indent,
                      default_newline=newlines.pop() if newlines else first.default_newline,
                      has_trailing_newline=last.has_trailing_newline)


# ------------------------------------------------------------------ relevance


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def import_table(tree: ast.Module, stmts: list[ast.stmt] | None = None) -> dict[str, set[str]] | None:
    """Local name -> raw dotted paths it is bound to by imports and module aliases, in any
    scope (over-approximated: relevance, not resolution). None when a star import from a
    library makes any name possible."""
    table: dict[str, set[str]] = {}
    stmts = stmts if stmts is not None else list(_statements(tree.body))
    for node in stmts:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    table.setdefault(alias.asname, set()).add(alias.name)
                else:
                    head = alias.name.split(".")[0]
                    table.setdefault(head, set()).add(head)
        elif isinstance(node, ast.ImportFrom):
            if node.level or not node.module:
                continue
            for alias in node.names:
                if alias.name == "*":
                    return None
                table.setdefault(alias.asname or alias.name, set()).add(f"{node.module}.{alias.name}")
    for node in stmts:  # `L = tf.keras.layers`, `Dense = layers.Dense`
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            dotted = _dotted(node.value)
            if dotted:
                head, _, rest = dotted.partition(".")
                for base in list(table.get(head, ())):
                    table.setdefault(node.targets[0].id, set()).add(f"{base}.{rest}" if rest else base)
    return table


KERAS3_FLAVORS = frozenset({"keras", "tf.keras"})
INTERNAL_ROOTS = ("keras.src.", "tf_keras.src.")  # Keras's own modules (an `@api` anchor skips them)


def _keras_forms(anchor: str, flavors: frozenset[str] | None = None) -> list[str]:
    """The raw module paths a canonical anchor can be spelled with (in `flavors` only, if given)."""
    from kerascheck.names import KERAS_ROOTS

    if anchor == "keras" or anchor.startswith("keras."):
        rest = anchor[len("keras"):]
        return [root + rest for root, flavor in KERAS_ROOTS
                if root not in ("keras.src", "keras.api", "tf_keras.src") and (flavors is None or flavor in flavors)]
    forms = [anchor]
    if anchor.startswith("tensorflow."):
        forms.append("tensorflow.compat.v2." + anchor[len("tensorflow."):])
    return forms


def anchor_words(tree: ast.Module, rules, stmts: list[ast.stmt] | None = None,
                 memo: dict | None = None) -> tuple[str, ...] | None:
    """The words whose presence makes a function worth parsing in this file, or None for
    "parse everything". Canonical anchors become the file's own spellings: with
    `from tensorflow.keras import layers as L`, `keras.layers.*` is `L.`; with
    `import tensorflow as tf`, it is `tf.keras.layers.`. An anchor ending in `@3` counts only
    Keras 3's spellings (`keras`, `tf.keras`): a rule about Keras 3 APIs does not make
    tf_keras code worth parsing. One ending in `@api` counts only those that go through the
    public API: not `keras.src.*` or `tf_keras.src.*`, Keras's own modules."""
    from kerascheck.names import canonical

    anchors: set[str] = set()
    words: set[str] = set()
    for rule in rules:
        if not rule.anchors:
            return None
        for anchor in rule.anchors:
            if anchor.startswith("."):
                words.add(anchor + "(")  # a method: `.compile(`
            elif anchor.startswith("="):
                words.add(anchor[1:])  # a plain word
            else:
                anchors.add(anchor)
    if not anchors:
        return tuple(sorted(words))
    if memo is not None and "table" in memo:  # the file's import table, once per parse
        table = memo["table"]
    else:
        table = import_table(tree, stmts)
        if memo is not None:
            memo["table"] = table
    if table is None:
        return None
    for local, raws in table.items():
        for raw in raws:
            resolved = canonical(raw)
            canon = resolved.name
            for anchor in anchors:
                flavors = None
                if anchor.endswith("@api"):
                    if raw.startswith(INTERNAL_ROOTS):
                        continue
                    anchor = anchor[:-4] + "@3"
                if anchor.endswith("@3"):
                    anchor, flavors = anchor[:-2], KERAS3_FLAVORS
                    if resolved.flavor is not None and resolved.flavor not in flavors:
                        continue
                star = anchor.endswith("*")
                stem = anchor[:-1] if star else anchor
                if (canon == anchor) or (star and canon.startswith(stem) and canon != stem.rstrip(".")):
                    words.add(local)  # `Dropout`, `drop`, `L` bound to a matching name
                    continue
                for form in _keras_forms(stem, flavors):
                    if form.startswith(raw + "."):
                        # `tf` + `.keras.layers.`: the anchor spelled through the local name
                        words.add(local + form[len(raw):])
                if canon != raw and stem.startswith(canon + "."):
                    words.add(local + stem[len(canon):])
    return tuple(sorted(words))
