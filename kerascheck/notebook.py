"""Jupyter notebooks: the code cells as one Python source, and back.

The notebook's JSON is read with the `json` module (never executed, and
nbformat is not needed). Code cells are joined in order, so a model built
across cells is seen whole; markdown and raw cells contribute no lines.
IPython syntax is neutralised line for line, so every line keeps its number:

- a cell whose first line is a cell magic (`%%bash`, `%%writefile`, ...) is
  blanked whole, except the magics whose body is Python (`%%time`,
  `%%timeit`, `%%capture`, `%%prun`, `%%debug`): there only the magic line is;
- line magics (`%matplotlib inline`, `x = %time f()`), shell escapes
  (`!pip install`, `files = !ls`) and help lines (`obj?`, `??obj`) become
  `pass` at their indentation (continuation lines after a `\\` become blank);
- automagic lines, magics written without `%` (`pip install x`, `ls dir/`,
  `cd data`, `cat f`), become `pass` too, as IPython runs them with automagic
  on: when the first word is a line magic (or IPython's shell alias) and the
  line is not Python by itself (`ls = []`, `cat(x)` and `ls -la` stay Python);
- a cell whose first non-blank line is indented is dedented by that
  indentation, as IPython does (`leading_indent`); findings in it are mapped
  back to the cell's own columns.

A cell that is still not valid Python becomes blank after the check finds it
(`blank_broken`), so it is one KC000 and every other cell is still checked.

Only lines that start a statement are looked at: a `%` inside a string or
a bracket is Python's. Cell numbers are 1-based positions among all cells
(markdown included), which is what a reader counts, as ruff does.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from kerascheck.lines import split_lines
from kerascheck.source import Unreadable

if TYPE_CHECKING:
    from kerascheck.finding import FileResult

PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})

# A cell map: for each code cell that has lines, (first line in the joined source, cell number,
# the cell's own lines as written, for code frames, the indentation removed from its lines).
Cells = tuple[tuple[int, int, tuple[str, ...], str], ...]

# IPython's line magics (8.x core and ipykernel) and its shell aliases: with automagic on (the
# default) `pip install x` runs `%pip install x` when the line is not Python.
AUTOMAGICS = frozenset("""
alias alias_magic autoawait autocall automagic bookmark cat cd clear colors conda config connect_info cp
debug dhist dirs doctest_mode ed edit env gui hist history killbgscripts ldir less lf lk ll load load_ext
loadpy logoff logon logstart logstate logstop ls lsmagic lx macro magic man matplotlib mkdir more mv notebook
page pastebin pdb pdef pdoc pfile pinfo pinfo2 pip popd pprint precision prun psearch psource pushd pwd pycat
pylab qtconsole quickref recall rehashx reload_ext rep rerun reset reset_selective rm rmdir run save sc
set_env sx system tb time timeit unalias unload_ext who who_ls whos xdel xmode""".split())
_FIRST_WORD = re.compile(r"([A-Za-z_]\w*)(?=[\s(]|$)")

_ASSIGN_MAGIC = re.compile(r"[\w.\[\]\"', ()*]+?\s*=\s*[%!]")
_HELP = re.compile(r"(\?{1,2}[\w.*]+|[\w.*\[\]()]+\?{1,2})")


def _fail(reason: str) -> Unreadable:
    return Unreadable(f"malformed notebook: {reason}")


def _text(source, where: str) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    raise _fail(f"{where} has a 'source' that is neither a string nor a list of strings")


def _cells(nb: object) -> list[dict]:
    if not isinstance(nb, dict):
        raise _fail("the top level is not a JSON object")
    if "cells" in nb:  # nbformat 4
        cells = nb["cells"]
    elif isinstance(nb.get("worksheets"), list):  # nbformat 3
        cells = [c for ws in nb["worksheets"] if isinstance(ws, dict) for c in ws.get("cells", [])]
    else:
        raise _fail("no 'cells' list")
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise _fail("'cells' is not a list of objects")
    return cells


def _language(nb: dict) -> str:
    meta = nb.get("metadata")
    if not isinstance(meta, dict):
        return "python"
    for key, sub in (("kernelspec", "language"), ("language_info", "name")):
        value = meta.get(key)
        if isinstance(value, dict) and isinstance(value.get(sub), str):
            return value[sub].lower()
    return "python"


def to_source(data: bytes) -> tuple[bytes, Cells]:
    """The notebook's code cells as Python source (UTF-8) and its cell map."""
    try:
        nb = json.loads(data)
    except UnicodeDecodeError as exc:
        raise _fail(f"not UTF-8 ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise Unreadable(f"malformed notebook: invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except RecursionError:
        raise _fail("nested too deeply") from None
    cells = _cells(nb)
    if _language(nb) not in ("python", "python3", "ipython", "ipython3"):
        return b"", ()
    out: list[str] = []
    starts: list[tuple[int, int, tuple[str, ...], str]] = []
    line = 1
    sources = []
    for number, cell in enumerate(cells, 1):
        if cell.get("cell_type") != "code":
            continue
        source = _text(cell.get("source", cell.get("input", "")), f"cell {number}")
        if source:
            sources.append((number, source))
    bound = _bound_magic_names("\n".join(s for _, s in sources))
    for number, source in sources:
        lines = split_lines(source)  # as Python's tokenizer: not at \f or \u2028
        indent = _leading_indent(lines)
        starts.append((line, number, tuple(lines), indent))
        if indent:
            lines = [s[len(indent):] if s.startswith(indent) else s for s in lines]
        out.extend(neutralize(lines, bound))
        line += len(lines)
    text = "".join(f"{s}\n" for s in out)
    return text.encode("utf-8", "surrogatepass"), tuple(starts)


def _leading_indent(lines: list[str]) -> str:
    """What IPython removes from a cell's lines: the indentation of its first non-blank line."""
    first = next((s for s in lines if s and not s.isspace()), "")
    return first[: len(first) - len(first.lstrip(" \t"))]


def original_text(cells: Cells) -> str:
    """The code cells as written (magics and all), one line per joined-source line."""
    return "".join(f"{line}\n" for _, _, cell, _ in cells for line in cell)


def to_joined(cells: Cells, cell: int, line: int, column: int) -> tuple[int, int]:
    """A cell's own (line, column) -> the joined source's."""
    for start, number, original, indent in cells:
        if number == cell:
            shift = len(indent) if indent and 0 < line <= len(original) and original[line - 1].startswith(indent) else 0
            return start + line - 1, column - shift
    return line, column


def blank_broken(text: str, cells: Cells) -> tuple[str, list[tuple[int, int, str]]]:
    """Blank each cell that is not valid Python alone: (the new text, one (joined line, column,
    message) per broken cell). Cells are independent programs to IPython, so one cell's syntax
    error must not hide the others; what a broken cell defines is unknown to the cells after it."""
    import ast
    import warnings

    lines = split_lines(text)
    problems = []
    for start, _, original, _ in cells:
        chunk = lines[start - 1 : start - 1 + len(original)]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse("\n".join(chunk) + "\n")
        except SyntaxError as exc:
            kind = "indentation error" if isinstance(exc, IndentationError) else "syntax error"
            problems.append((start + (exc.lineno or 1) - 1, exc.offset or 1, f"{kind}: {exc.msg or 'invalid syntax'}"))
            lines[start - 1 : start - 1 + len(original)] = _unknowns(chunk)
        except (RecursionError, MemoryError, ValueError):
            problems.append((start, 1, "cannot parse this cell"))
            lines[start - 1 : start - 1 + len(original)] = _unknowns(chunk)
    return "\n".join(lines), problems


_TOUCHED = re.compile(r"([A-Za-z_][\w\s,()\[\]*]*?)\s*(?:[-+*/@%&|^]|//|\*\*|>>|<<)?=(?!=)|([A-Za-z_]\w*)\s*[.\[]"
                      r"|(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)")
BROKEN = "_kerascheck_broken_cell_"  # a name bound nowhere: what it stands for is unknown


def _unknowns(chunk: list[str]) -> list[str]:
    """A broken cell's lines, blank except that each top-level name it assigns, defines or calls a
    method of becomes unknown (`drop = _kerascheck_broken_cell_`): later cells must not see the
    values the names had before it."""
    import keyword

    out = []
    for line in chunk:
        match = _TOUCHED.match(line)
        names = []
        if match is not None:
            target = match.group(1) or match.group(2) or match.group(3) or ""
            names = [n for n in re.findall(r"[A-Za-z_]\w*", target) if not keyword.iskeyword(n)]
            if match.group(1) is not None and re.search(r"\b(if|for|while|with|lambda|return|print)\b", target):
                names = []  # `if x == 1` is no assignment; `print(x = 1)` is no Python target
        out.append(" = ".join([*dict.fromkeys(names), BROKEN]) if names else "")
    return out


def _bound_magic_names(text: str) -> frozenset[str]:
    """Magic names the notebook binds as Python names (`ls = ...`, `def run(`, `import time`):
    IPython does not run a magic whose name the user's namespace shadows."""
    bound = set()
    for word in AUTOMAGICS:
        if word not in text:
            continue
        w = re.escape(word)
        if re.search(rf"(?m)(^|[^\w.]){w}\s*(=(?!=)|,[^\n]*=(?!=))|\b(def|class|for|as|global)\s+{w}\b"
                     rf"|^\s*(from\s+\S+\s+)?import\s[^\n]*\b{w}\b", text):
            bound.add(word)
    return frozenset(bound)


def neutralize(lines: list[str], bound: frozenset[str] = frozenset()) -> list[str]:
    """IPython-only lines to `pass` or blank lines; the count never changes. `bound`: magic names
    the notebook defines as Python names (never automagic)."""
    first = next((s.strip() for s in lines if s.strip()), "")
    if first.startswith("%%"):
        name = first[2:].split(None, 1)[0] if first[2:].strip() else ""
        if name not in PYTHON_CELL_MAGICS:
            return [""] * len(lines)
        index = next(i for i, s in enumerate(lines) if s.strip())
        lines = [*lines[:index], "", *lines[index + 1 :]]
    out = []
    scanner = _Scanner()
    continued_magic = False
    single = sum(1 for s in lines if s.strip()) == 1  # IPython's automagic: single-line cells only
    for raw in lines:
        if continued_magic:
            out.append("")
            continued_magic = raw.rstrip().endswith("\\")
            continue
        if scanner.at_statement_start():
            stripped = raw.strip()
            indent = raw[: len(raw) - len(raw.lstrip())]
            if stripped and not stripped.startswith("#") and (
                    _is_ipython(stripped) or _automagic(stripped, single, bound)):
                out.append(indent + "pass")
                continued_magic = stripped.endswith("\\")
                continue
        scanner.feed(raw)
        out.append(raw)
    return out


def _automagic(stripped: str, single: bool, bound: frozenset[str]) -> bool:
    """`pip install x`, `cd data/`, `ls dir/`: a magic's name first, not an assignment or attribute
    (IPython's AssignmentChecker), and either no Python by itself (then it is taken as the magic it
    was meant to be, wherever it is) or alone in its cell and not shadowed by a Python name of the
    notebook (IPython applies automagic to single-line cells, and not to names the user bound)."""
    match = _FIRST_WORD.match(stripped)
    if match is None or match.group(1) not in AUTOMAGICS:
        return False
    rest = stripped[match.end():].lstrip()
    if rest.startswith("=") and not rest.startswith("=="):
        return False
    scanner = _Scanner()
    scanner.feed(stripped)
    if not scanner.at_statement_start():
        return False  # `run = make(` opens a bracket: the start of a Python statement
    if single and match.group(1) not in bound:
        return True
    import ast
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(stripped)
    except SyntaxError:
        return True
    except (ValueError, RecursionError, MemoryError):
        return False
    return False


def _is_ipython(stripped: str) -> bool:
    if stripped[0] in "%!":
        return not stripped.startswith("!=")
    if _ASSIGN_MAGIC.match(stripped):
        return True
    return _HELP.fullmatch(stripped) is not None


class _Scanner:
    """Just enough of Python's tokenizer to know where statements start:
    open brackets, open triple-quoted strings and backslash continuations."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: str | None = None  # an open triple quote
        self.continued = False

    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.continued

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        self.continued = False
        while i < n:
            if self.quote is not None:
                end = line.find(self.quote, i)
                while end != -1 and _escaped(line, end):
                    end = line.find(self.quote, end + 1)
                if end == -1:
                    return
                i = end + 3
                self.quote = None
                continue
            ch = line[i]
            if ch == "#":
                return
            if ch in "([{":
                self.depth += 1
            elif ch in ")]}":
                self.depth = max(0, self.depth - 1)
            elif ch in "'\"":
                triple = line[i : i + 3]
                if triple in ("'''", '"""'):
                    self.quote = triple
                    i += 3
                    continue
                end = i + 1
                while end < n and line[end] != ch:
                    end += 2 if line[end] == "\\" else 1
                i = end + 1
                continue
            elif ch == "\\" and line[i + 1 :].strip() == "":
                self.continued = True
                return
            i += 1


def _escaped(line: str, index: int) -> bool:
    backslashes = 0
    while index > 0 and line[index - 1] == "\\":
        backslashes += 1
        index -= 1
    return backslashes % 2 == 1


def locate(cells: Cells, line: int) -> tuple[int, int, int]:
    """Joined-source line -> (cell number, line in the cell, index in `cells`); 0 if before all."""
    index = bisect.bisect_right([c[0] for c in cells], line) - 1
    if index < 0:
        return 0, line, -1
    start, number, _, _ = cells[index]
    return number, line - start + 1, index


def line_label(cells: Cells, line: int, at: int) -> str:
    """How a message names joined-source `line` from a finding at `at`: `5`, or `5 of cell 2`."""
    number, local, _ = locate(cells, line)
    if number == 0 or number == locate(cells, at)[0]:
        return str(local)
    return f"{local} of cell {number}"


def _map_fix(fix: dict | None, cells: Cells) -> dict | None:
    """A fix's edits at their cells' own lines, each with its `cell`."""
    if fix is None:
        return None
    edits = []
    for edit in fix["edits"]:
        number, line, index = locate(cells, edit["line"])
        end_number, end_line, _ = locate(cells, edit["end_line"])
        if number == 0 or end_number != number:
            return None  # an edit that no cell holds whole cannot be shown at a cell
        _, _, original, indent = cells[index]
        edits.append({**edit, "line": line, "end_line": end_line, "cell": number,
                      "column": edit["column"] + _shift(original, indent, line),
                      "end_column": edit["end_column"] + _shift(original, indent, end_line)})
    return {**fix, "edits": edits}


def map_result(result: FileResult, cells: Cells) -> FileResult:
    """Findings at joined-source lines -> findings at their cell's own lines, with code
    frames taken from the cell as written (not from its neutralised copy)."""
    if not result.findings or not cells:
        return result
    mapped = []
    for f in result.findings:
        number, line, index = locate(cells, f.line)
        if number == 0:
            mapped.append(f)
            continue
        start, _, original, indent = cells[index]
        end_line = f.end_line - start + 1
        if end_line > len(original):
            end_line = line  # joined, a node could run into the next cell; report it in this one
        frame_start = frame_stop = 0
        if f.frame:
            frame_start = max(1, f.frame_start - start + 1)
            frame_stop = min(len(original), f.frame_start + len(f.frame) - start)
        frame = tuple(original[frame_start - 1 : frame_stop]) if f.frame else ()
        related = tuple(_related(r, cells) for r in f.related)
        mapped.append(replace(f, cell=number, line=line, end_line=end_line,
                              column=f.column + _shift(original, indent, line),
                              end_column=f.end_column + _shift(original, indent, end_line),
                              frame=frame, frame_start=frame_start if frame else 0, related=related,
                              fix=_map_fix(f.fix, cells)))
    return replace(result, findings=tuple(mapped))


def _shift(original: tuple[str, ...], indent: str, line: int) -> int:
    """Columns IPython's dedent took from a cell's line (1-based), to give back."""
    return len(indent) if indent and 0 < line <= len(original) and original[line - 1].startswith(indent) else 0


def _related(r, cells: Cells):
    if r.path is not None:
        return r
    number, line, index = locate(cells, r.line)
    if number == 0:
        return r
    start, _, original, indent = cells[index]
    end_line = min(max(line, r.end_line - start + 1), len(original))
    return replace(r, cell=number, line=line, end_line=end_line, column=r.column + _shift(original, indent, line),
                   end_column=r.end_column + _shift(original, indent, end_line),
                   text=original[line - 1] if line <= len(original) else r.text)


# ------------------------------------------------------------------ writing fixes back


def source_spans(raw: str) -> dict[int, tuple[int, int]]:
    """Where each cell's `source` value sits in the notebook's JSON text: cell number ->
    (start, end) offsets. Found by scanning the text as JSON (values skipped with the json
    module's own decoder), so a fix can replace a value and leave every other byte alone."""
    decoder = json.JSONDecoder()
    spans: dict[int, tuple[int, int]] = {}

    def skip_ws(i: int) -> int:
        while i < len(raw) and raw[i] in " \t\r\n":
            i += 1
        return i

    def members(i: int):
        """(key, value start, value end) of the object starting at `i`; the object's end."""
        assert raw[i] == "{"
        i = skip_ws(i + 1)
        found = []
        if raw[i] == "}":
            return found, i + 1
        while True:
            key, i = json.decoder.scanstring(raw, i + 1)
            i = skip_ws(i)
            assert raw[i] == ":"
            start = skip_ws(i + 1)
            _, end = decoder.raw_decode(raw, start)
            found.append((key, start, end))
            i = skip_ws(end)
            if raw[i] == "}":
                return found, i + 1
            assert raw[i] == ","
            i = skip_ws(i + 1)

    try:
        top, _ = members(skip_ws(0))
        cells = next(((s, e) for k, s, e in top if k == "cells"), None)
        if cells is None or raw[cells[0]] != "[":
            return {}
        i = skip_ws(cells[0] + 1)
        number = 0
        while raw[i] != "]":
            number += 1
            if raw[i] == "{":
                fields, end = members(i)
                for key, start, stop in fields:
                    if key == "source":
                        spans[number] = (start, stop)
            else:
                _, end = decoder.raw_decode(raw, i)
            i = skip_ws(end)
            if raw[i] == ",":
                i = skip_ws(i + 1)
    except (AssertionError, IndexError, ValueError):
        return {}
    return spans


def replace_sources(raw: str, spans: dict[int, tuple[int, int]], sources: dict[int, str]) -> str:
    """The notebook's JSON text with the `source` of each cell in `sources` replaced, written
    in the style of the value it replaces (a list of lines, each element laid out as before,
    unchanged lines kept byte for byte; or one string), and nothing else touched."""
    ascii_only = raw.isascii()
    out = []
    last = 0
    for number in sorted(sources):
        if number not in spans:
            raise ValueError(f"cell {number}: its source was not found in the notebook's text")
        start, end = spans[number]
        out.append(raw[last:start])
        out.append(_source_json(raw[start:end], sources[number], ascii_only))
        last = end
    out.append(raw[last:])
    return "".join(out)


def _source_json(old: str, source: str, ascii_only: bool) -> str:
    lines = _split_at_newlines(source)  # nbformat splits at "\n" only
    if not old.startswith("["):
        return json.dumps(source, ensure_ascii=ascii_only)
    decoder = json.JSONDecoder()
    items: list[tuple[str, int, int]] = []  # each old element: (value, start, end) in `old`
    i = 1
    while True:
        j = _skip(old, i)
        if old[j] == "]":
            break
        value, k = decoder.raw_decode(old, j)
        items.append((value, j, k))
        m = _skip(old, k)
        i = m + 1 if old[m] == "," else m
    if not items:
        return json.dumps(lines, ensure_ascii=ascii_only)
    lead = old[1 : items[0][1]]
    tail = old[items[-1][2] : len(old) - 1]
    sep = old[items[0][2] : items[1][1]] if len(items) > 1 else ("," + lead if "\n" in lead else ", ")
    pool: dict[str, list[str]] = {}
    for value, a, b in items:
        pool.setdefault(value, []).append(old[a:b])
    written = []
    for line in lines:
        reuse = pool.get(line)
        written.append(reuse.pop(0) if reuse else json.dumps(line, ensure_ascii=ascii_only))
    if not written:
        return "[]"
    return "[" + lead + sep.join(written) + tail + "]"


def _skip(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _split_at_newlines(text: str) -> list[str]:
    out = []
    start = 0
    while True:
        stop = text.find("\n", start)
        if stop == -1:
            if start < len(text):
                out.append(text[start:])
            return out
        out.append(text[start : stop + 1])
        start = stop + 1
