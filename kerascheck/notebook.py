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
  `pass` at their indentation (continuation lines after a `\\` become blank).

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
# the cell's own lines as written, for code frames).
Cells = tuple[tuple[int, int, tuple[str, ...]], ...]

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
    starts: list[tuple[int, int, tuple[str, ...]]] = []
    line = 1
    for number, cell in enumerate(cells, 1):
        if cell.get("cell_type") != "code":
            continue
        source = _text(cell.get("source", cell.get("input", "")), f"cell {number}")
        if not source:
            continue
        lines = split_lines(source)  # as Python's tokenizer: not at \f or \u2028
        starts.append((line, number, tuple(lines)))
        out.extend(neutralize(lines))
        line += len(lines)
    text = "".join(f"{s}\n" for s in out)
    return text.encode("utf-8", "surrogatepass"), tuple(starts)


def neutralize(lines: list[str]) -> list[str]:
    """IPython-only lines to `pass` or blank lines; the count never changes."""
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
    for raw in lines:
        if continued_magic:
            out.append("")
            continued_magic = raw.rstrip().endswith("\\")
            continue
        if scanner.at_statement_start():
            stripped = raw.strip()
            indent = raw[: len(raw) - len(raw.lstrip())]
            if stripped and not stripped.startswith("#") and _is_ipython(stripped):
                out.append(indent + "pass")
                continued_magic = stripped.endswith("\\")
                continue
        scanner.feed(raw)
        out.append(raw)
    return out


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
    start, number, _ = cells[index]
    return number, line - start + 1, index


def line_label(cells: Cells, line: int, at: int) -> str:
    """How a message names joined-source `line` from a finding at `at`: `5`, or `5 of cell 2`."""
    number, local, _ = locate(cells, line)
    if number == 0 or number == locate(cells, at)[0]:
        return str(local)
    return f"{local} of cell {number}"


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
        start, _, original = cells[index]
        end_line = f.end_line - start + 1
        if end_line > len(original):
            end_line = line  # joined, a node could run into the next cell; report it in this one
        frame_start = frame_stop = 0
        if f.frame:
            frame_start = max(1, f.frame_start - start + 1)
            frame_stop = min(len(original), f.frame_start + len(f.frame) - start)
        frame = tuple(original[frame_start - 1 : frame_stop]) if f.frame else ()
        mapped.append(replace(f, cell=number, line=line, end_line=end_line,
                              frame=frame, frame_start=frame_start if frame else 0))
    return replace(result, findings=tuple(mapped))
