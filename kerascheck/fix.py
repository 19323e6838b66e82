"""Fixes: apply the rules' text edits, atomically, pass after pass until nothing changes.

A rule's `Fix` reaches here as `Finding.fix`: edits at 1-based lines and columns (counted in
characters, end exclusive) on the text that was checked. One pass applies every applicable
fix whose edits touch nothing an earlier fix of the pass touched (sorted by position; an edit
identical to one already applied counts as done, so two fixes may share an added import); the
rest wait for the next pass, which checks the new text afresh. After at most MAX_PASSES passes
the text must be stable, or the file is left as it was and the rules still fixing are named.
Every pass's result must parse, or the file is left as it was and the fixes that broke it
are named. Findings a `# noqa` silences never reach here; a baseline hides the findings it
records. A file that does not parse, or that the engine reports as KC000, is never fixed.

Files are written whole through a temporary file in their own folder (`atomic.replace_file`),
with their encoding (PEP 263 cookie, BOM), line endings (each added line break takes the
ending of the line it lands on) and mode. Notebooks are fixed cell by cell: edits land in the
cells' own sources, and only the changed `source` values of the JSON are rewritten, so the
rest of the file (indentation, key order, outputs, metadata, trailing newline) keeps its bytes.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import tokenize
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from kerascheck.finding import FileResult, Finding
from kerascheck.lines import split_lines
from kerascheck.source import Unreadable, decode

MAX_PASSES = 10
APPLIES = {False: ("safe",), True: ("safe", "unsafe")}  # by --unsafe-fixes


def applicable(fix: dict | None, unsafe: bool = False) -> bool:
    """Would `--fix` apply this finding's fix (`unsafe`: with --unsafe-fixes)?"""
    return fix is not None and fix.get("applicability") in APPLIES[unsafe] and bool(fix.get("edits"))


@dataclass
class Outcome:
    """What fixing one file did."""

    display: str
    original: bytes
    fixed: bytes | None = None  # the new bytes; None when nothing changed
    applied: Counter = field(default_factory=Counter)  # (code, name) -> fixes applied
    result: FileResult | None = None  # findings of the fixed text (None: the run's stand)
    error: str | None = None  # why the file was left as it was
    diffs: list[tuple[str, str, str]] = field(default_factory=list)  # (label, old text, new text)

    @property
    def count(self) -> int:
        return sum(self.applied.values())

    def diff(self) -> str:
        out = []
        for label, old, new in self.diffs:
            out.extend(difflib.unified_diff(split_lines(old, keepends=True), split_lines(new, keepends=True),
                                            fromfile=label, tofile=label))
            if out and not out[-1].endswith(("\n", "\r")):
                out[-1] += "\n\\ No newline at end of file\n"
        return "".join(out)


# ------------------------------------------------------------------ edits on texts


@dataclass(frozen=True, order=True)
class _Span:
    unit: int  # which text: 0 for a Python file, the cell number in a notebook
    start: int
    end: int
    content: str


def _starts(text: str) -> list[int]:
    starts = [0]
    for line in split_lines(text, keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def _offset(starts: list[int], text: str, line: int, column: int) -> int | None:
    if line < 1 or line > len(starts):
        return None
    if line == len(starts):  # just past a final line break
        return len(text) if column == 1 else None
    begin, stop = starts[line - 1], starts[line]
    width = len(text[begin:stop].rstrip("\r\n"))
    if column < 1 or column - 1 > width:
        return None
    return begin + column - 1


def _newline(text: str, starts: list[int], offset: int) -> str:
    """The line ending of the line holding `offset` (the text's first one for a last line)."""
    for i in range(len(starts) - 1):
        if starts[i] <= offset < starts[i + 1] or (i == len(starts) - 2 and offset == starts[i + 1]):
            line = text[starts[i]:starts[i + 1]]
            ending = line[len(line.rstrip("\r\n")):]
            if ending:
                return ending
            break
    for line in split_lines(text, keepends=True):
        ending = line[len(line.rstrip("\r\n")):]
        if ending:
            return ending
    return "\n"


def _conflict(a: _Span, b: _Span) -> bool:
    if a.unit != b.unit:
        return False
    if a.start < b.end and b.start < a.end:
        return True
    # An insertion conflicts with an edit at the same place, or one it falls inside.
    if a.start == a.end and (b.start < a.start < b.end or a.start == b.start):
        return True
    return b.start == b.end and (a.start < b.start < a.end or a.start == b.start)


def apply_fixes(texts: dict[int, str], fixes: list[tuple[Finding, list[_Span]]]) -> tuple[dict[int, str], list[Finding]]:
    """Apply in order every fix that overlaps no fix applied before it; the new texts and the
    findings whose fixes were applied."""
    done: list[_Span] = []
    applied: list[Finding] = []
    for finding, spans in sorted(fixes, key=lambda item: (min(item[1]), item[0].code, item[0].message)):
        new = [s for s in spans if s not in done]
        if any(_conflict(s, d) for s in new for d in done) or any(
                _conflict(a, b) for i, a in enumerate(new) for b in new[i + 1:]):
            continue
        done.extend(new)
        applied.append(finding)
    out = dict(texts)
    for unit in {s.unit for s in done}:
        text = texts[unit]
        pieces = []
        last = len(text)
        # From the end, so earlier offsets stay valid; an insertion at a replaced range's start goes first.
        for span in sorted((s for s in done if s.unit == unit), key=lambda s: (s.start, s.end), reverse=True):
            pieces.append(text[span.end:last])
            pieces.append(span.content)
            last = span.start
        pieces.append(text[:last])
        out[unit] = "".join(reversed(pieces))
    return out, applied


# ------------------------------------------------------------------ documents


class _Document:
    """A file being fixed: its texts (one, or one per changed cell) and how to check them."""

    display: str
    path: Path | None

    def texts(self) -> dict[int, str]:
        raise NotImplementedError

    def check(self, plan, index=None) -> tuple[FileResult, object]:
        """The findings of the current texts (at the lines the checked source has), and what
        `spans` needs to place their edits."""
        raise NotImplementedError

    def spans(self, finding: Finding, where) -> list[_Span] | None:
        raise NotImplementedError

    def update(self, texts: dict[int, str]) -> None:
        raise NotImplementedError

    def syntax_error(self) -> str | None:
        raise NotImplementedError

    def data(self) -> bytes:
        raise NotImplementedError

    def report(self, result: FileResult, where) -> FileResult:
        return result

    def diffs(self, original: dict[int, str]) -> list[tuple[str, str, str]]:
        raise NotImplementedError


def _analyze(display: str, path: Path | None, data: bytes, plan, index=None) -> tuple[FileResult, object]:
    from kerascheck import engine

    with engine.recursion_room():
        # The file's imports into the project are followed, as in the run that reported it.
        view = engine.project_view(path.absolute() if path is not None else None, data, plan, index, keep=False)
        prepared = engine.prepare_data(display, path, data, plan, view)
        if isinstance(prepared, FileResult):
            return prepared, None
        return engine.analyze_guarded(prepared, plan), prepared


def _syntax_error(text: str) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except (ValueError, RecursionError, MemoryError) as exc:
        return str(exc) or type(exc).__name__
    return None


class _PythonFile(_Document):
    def __init__(self, display: str, path: Path | None, data: bytes) -> None:
        self.display, self.path = display, path
        self.bom = data.startswith(b"\xef\xbb\xbf")
        try:
            self.encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as exc:
            raise Unreadable(f"bad encoding declaration: {exc}") from None
        self.text = decode(data)

    def texts(self) -> dict[int, str]:
        return {0: self.text}

    def data(self) -> bytes:
        codec = "utf-8" if self.encoding == "utf-8-sig" else self.encoding
        try:
            body = self.text.encode(codec)
        except UnicodeEncodeError as exc:
            raise Unreadable(f"a fix wrote a character that {codec} cannot encode ({exc.reason})") from None
        return (b"\xef\xbb\xbf" if self.bom else b"") + body

    def check(self, plan, index=None):
        return _analyze(self.display, self.path, self.data(), plan, index)

    def spans(self, finding: Finding, where) -> list[_Span] | None:
        starts = _starts(self.text)
        out = []
        for edit in finding.fix["edits"]:
            begin = _offset(starts, self.text, edit["line"], edit["column"])
            end = _offset(starts, self.text, edit["end_line"], edit["end_column"])
            if begin is None or end is None or end < begin:
                return None
            content = edit["content"]
            if "\n" in content:
                content = content.replace("\n", _newline(self.text, starts, begin))
            out.append(_Span(0, begin, end, content))
        return out

    def update(self, texts: dict[int, str]) -> None:
        self.text = texts[0]

    def syntax_error(self) -> str | None:
        return _syntax_error(self.text)

    def diffs(self, original: dict[int, str]) -> list[tuple[str, str, str]]:
        return [(self.display, original[0], self.text)] if original[0] != self.text else []


class _Notebook(_Document):
    """A notebook (nbformat 4): each code cell's source is a text of its own, by cell number."""

    def __init__(self, display: str, path: Path | None, data: bytes) -> None:
        from kerascheck.notebook import source_spans

        self.display, self.path = display, path
        self.bom = data.startswith(b"\xef\xbb\xbf")
        try:
            self.raw = data.decode("utf-8-sig" if self.bom else "utf-8")
            self.nb = json.loads(self.raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise Unreadable("malformed notebook") from None
        cells = self.nb.get("cells") if isinstance(self.nb, dict) else None
        if not isinstance(cells, list):
            raise Unreadable("not an nbformat 4 notebook (no top-level 'cells' list): not fixed")
        self.spans_in_raw = source_spans(self.raw)
        self.cells = cells
        self.sources: dict[int, str] = {}
        for number, cell in enumerate(cells, 1):
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                source = cell.get("source", "")
                self.sources[number] = "".join(source) if isinstance(source, list) else source
        self.changed: set[int] = set()

    def texts(self) -> dict[int, str]:
        return dict(self.sources)

    def _checked(self) -> bytes:
        nb = dict(self.nb)
        nb["cells"] = [dict(c, source=self.sources[i]) if i in self.sources else c
                       for i, c in enumerate(self.cells, 1)]
        return json.dumps(nb).encode("utf-8", "surrogatepass")

    def check(self, plan, index=None):
        return _analyze(self.display, self.path, self._checked(), plan, index)

    def spans(self, finding: Finding, work) -> list[_Span] | None:
        from kerascheck.lines import split_lines as lines_of
        from kerascheck.notebook import locate

        cells = work.cells
        checked = lines_of(work.text)
        out = []
        for edit in finding.fix["edits"]:
            number, line, index = locate(cells, edit["line"])
            end_number, end_line, _ = locate(cells, edit["end_line"])
            if number == 0 or end_number != number:
                return None  # before every cell, or across cells
            first, _, original, indent = cells[index]
            shifts = []
            for joined in range(edit["line"], edit["end_line"] + 1):
                # A line the checker saw rewritten (a magic made `pass`) is not the cell's own; a
                # dedented cell (IPython strips the first line's indentation) gives its columns back.
                local = joined - first
                if local >= len(original) or joined > len(checked):
                    return None
                shift = len(indent) if indent and original[local].startswith(indent) else 0
                if checked[joined - 1] != original[local][shift:]:
                    return None
                shifts.append(shift)
            text = self.sources[number]
            starts = _starts(text)
            begin = _offset(starts, text, line, edit["column"] + shifts[0])
            end = _offset(starts, text, end_line, edit["end_column"] + shifts[-1])
            if begin is None or end is None or end < begin:
                return None
            content = edit["content"]
            if "\n" in content:
                content = content.replace("\n", _newline(text, starts, begin))
            out.append(_Span(number, begin, end, content))
        return out

    def update(self, texts: dict[int, str]) -> None:
        for number, text in texts.items():
            if self.sources.get(number) != text:
                self.sources[number] = text
                self.changed.add(number)

    def syntax_error(self) -> str | None:
        from kerascheck.notebook import to_source

        try:
            source, _ = to_source(self._checked())
        except Unreadable as exc:
            return exc.message
        return _syntax_error(source.decode("utf-8", "surrogatepass"))

    def data(self) -> bytes:
        from kerascheck.notebook import replace_sources

        raw = replace_sources(self.raw, self.spans_in_raw, {n: self.sources[n] for n in self.changed})
        return (b"\xef\xbb\xbf" if self.bom else b"") + raw.encode("utf-8", "surrogatepass")

    def report(self, result: FileResult, work) -> FileResult:
        from kerascheck.notebook import map_result

        return map_result(result, work.cells) if work is not None and work.cells is not None else result

    def diffs(self, original: dict[int, str]) -> list[tuple[str, str, str]]:
        return [(f"{self.display}:cell {n}", original[n], self.sources[n])
                for n in sorted(self.changed) if original[n] != self.sources[n]]


def document(display: str, path: Path | None, data: bytes) -> _Document:
    if display.endswith(".ipynb"):
        return _Notebook(display, path, data)
    return _PythonFile(display, path, data)


# ------------------------------------------------------------------ the loop


Hidden = Callable[[list[Finding]], set[int]]  # ids of the findings a baseline records


def fix_data(display: str, path: Path | None, data: bytes, plan, unsafe: bool = False,
             hidden: Hidden | None = None, index=None) -> Outcome:
    """Fix one file's bytes in memory: the outcome says what to write (nothing is written).
    `index`: the run's project index (None: one of `path`'s project, made on demand)."""
    outcome = Outcome(display, data)
    try:
        doc = document(display, path, data)
    except Unreadable as exc:
        outcome.error = f"not fixed: {exc.message}"
        return outcome
    original = doc.texts()
    if doc.syntax_error() is not None:
        return outcome  # the check reports it (KC000); nothing is fixed in a file that does not parse
    for number in range(1, MAX_PASSES + 2):
        result, work = doc.check(plan, index)
        if any(f.code == "KC000" for f in result.findings):
            if number == 1:
                return outcome  # never fix a file the engine could not check whole
            outcome.error = "a fix made the file uncheckable (KC000): " + "; ".join(
                f.message for f in result.findings if f.code == "KC000")
            return _untouched(outcome)
        findings = [f for f in result.findings if applicable(f.fix, unsafe)]
        if hidden is not None and findings:
            known = hidden(list(result.findings))
            findings = [f for f in findings if id(f) not in known]
        placed = [(f, spans) for f in findings if (spans := doc.spans(f, work))]
        if not placed:
            outcome.result = doc.report(result, work)
            break
        if number > MAX_PASSES:
            codes = ", ".join(sorted({f.code for f, _ in placed}))
            outcome.error = (f"fixes did not converge after {MAX_PASSES} passes ({codes} still fixing); "
                             "file left unchanged")
            return _untouched(outcome)
        before = doc.texts()
        texts, applied = apply_fixes(before, placed)
        if texts == before:
            outcome.result = doc.report(result, work)
            break
        doc.update(texts)
        problem = doc.syntax_error()
        if problem is not None:
            culprits = _culprits(doc, before, placed) or sorted({f.code for f in applied})
            outcome.error = (f"the fix of {', '.join(culprits)} produced invalid code ({problem}); "
                             "file left unchanged")
            return _untouched(outcome)
        outcome.applied.update((f.code, f.name) for f in applied)
    if outcome.applied:
        fixed = doc.data()
        if fixed != data:
            outcome.fixed = fixed
            outcome.diffs = doc.diffs(original)
    return outcome


def _untouched(outcome: Outcome) -> Outcome:
    outcome.applied = Counter()
    outcome.fixed = None
    outcome.result = None
    return outcome


def _culprits(doc: _Document, before: dict[int, str], placed) -> list[str]:
    """The rules whose fix, applied alone, makes the text unparsable."""
    found = set()
    for finding, spans in placed:
        texts, _ = apply_fixes(before, [(finding, spans)])
        doc.update(texts)
        if doc.syntax_error() is not None:
            found.add(f"{finding.code} ({finding.name})")
    doc.update(before)
    return sorted(found)


def fix_file(display: str, path: Path, plan, unsafe: bool = False, hidden: Hidden | None = None,
             write: bool = True, index=None) -> Outcome:
    """Fix one file on disk; with `write`, the fixed bytes replace it atomically."""
    from kerascheck.atomic import replace_file
    from kerascheck.source import read_bytes

    try:
        data = read_bytes(path)
    except Unreadable as exc:
        return Outcome(display, b"", error=f"not fixed: {exc.message}")
    outcome = fix_data(display, path, data, plan, unsafe, hidden, index)
    if write and outcome.fixed is not None:
        try:
            replace_file(path, outcome.fixed, expect=data)
        except (OSError, ValueError) as exc:
            outcome.error = f"not written: {getattr(exc, 'strerror', None) or exc}"
            _untouched(outcome)
    return outcome


def remaining(outcome: Outcome, before: FileResult) -> FileResult:
    """The file's result after fixing: the fixed text's findings, or the run's own."""
    if outcome.result is None:
        return before
    return replace(outcome.result, display=before.display, cached=False)
