"""The per-file run: read, prefilter, parse once, build the picture once,
run every rule over it, then turn hits into findings (positions and noqa are
computed only for files that have hits). Files are checked in parallel
processes; a bad file is one KC000 finding and never stops the run."""

from __future__ import annotations

import io
import os
import re
import sys
import time
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerascheck.config import Settings
from kerascheck.discover import Target
from kerascheck.registry import KC000, KC100, Rule
from kerascheck.source import Unreadable, decode, file_noqa, read_bytes

FRAME_BEFORE = 1
FRAME_MAX = 4


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: str
    fix: dict[str, Any] | None = None
    confirm: dict[str, Any] | None = None
    # For reporters only: source lines from `frame_start` on, around the finding.
    frame: tuple[str, ...] = field(default=(), compare=False, repr=False)
    frame_start: int = field(default=0, compare=False, repr=False)
    # The flagged code, whitespace removed (capped): a finding's identity for baselines and
    # SARIF fingerprints, which must survive line shifts. Set only for files with findings.
    snippet: str = field(default="", compare=False, repr=False)
    # Notebooks only: the 1-based cell (among all cells) that `line` counts in.
    cell: int | None = None
    # --confirm only: the rule's JSON-able confirm job ({"_unavailable": reason} when there is none).
    job: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = {
            "code": self.code, "name": self.name, "message": self.message, "path": self.path,
            "line": self.line, "column": self.column, "end_line": self.end_line,
            "end_column": self.end_column, "severity": self.severity, "fix": self.fix,
            "confirm": self.confirm,
        }
        if self.cell is not None:  # notebooks only: a .py finding's keys stay as documented
            data["cell"] = self.cell
        return data

    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.line, self.column, self.code, self.message)


@dataclass(frozen=True)
class FileResult:
    display: str
    findings: tuple[Finding, ...] = ()
    parsed: bool = False
    skipped: bool = False  # by the prefilter (or a file-level noqa)
    cached: bool = False  # from the result cache: not parsed this run


@dataclass(frozen=True)
class Plan:
    """What every file is checked with; built once per run, shared by workers."""

    settings: Settings
    rules: tuple[Rule, ...]  # enabled rule modules
    kc000: bool
    per_file: tuple[tuple[Any, frozenset[str]], ...]  # (PathSpec, codes)
    options: dict[str, dict[str, Any]]  # each rule's own typed options
    # KC100 (--report-unused-noqa) on: every known code, to tell unknown codes from disabled ones.
    unused_noqa: frozenset[str] | None = None
    confirm: bool = False  # --confirm: each finding carries its rule's confirm job

    @classmethod
    def make(cls, settings: Settings, rules: tuple[Rule, ...], enabled: set[str]) -> Plan:
        from kerascheck.registry import expand

        known = tuple(r.code for r in (KC000, KC100, *rules))
        if settings.per_file_ignores:
            import pathspec
        per_file = tuple(
            (pathspec.PathSpec.from_lines("gitwildmatch", [pattern]), frozenset(expand(codes, known)))
            for pattern, codes in settings.per_file_ignores
        )
        chosen = tuple(r for r in rules if r.code in enabled)
        options = {r.code: settings.options_for(r.code, r.options) for r in chosen if r.options is not None}
        unused_noqa = frozenset(known) if settings.report_unused_noqa and KC100.code in enabled else None
        return cls(settings, chosen, "KC000" in enabled, per_file, options, unused_noqa)

    def ignored_codes(self, path: Path) -> frozenset[str]:
        if not self.per_file:
            return frozenset()
        try:
            rel = path.relative_to(self.settings.root).as_posix()
        except ValueError:
            rel = path.as_posix()
        codes: set[str] = set()
        for spec, ignored in self.per_file:
            if spec.match_file(rel) or spec.match_file(path.name):
                codes |= ignored
        return frozenset(codes)


# ------------------------------------------------------------------ stage 1


@dataclass
class _Work:
    """A file that passed the prefilter and must be parsed."""

    target: Target
    text: str
    rules: tuple[Rule, ...]
    kc000: bool
    options: dict[str, dict[str, Any]]
    unused_noqa: frozenset[str] | None = None  # KC100 on: the codes it must not judge in this file
    cells: tuple[tuple[int, int], ...] | None = None  # notebooks: (first joined line, cell number)
    confirm: bool = False  # --confirm: findings carry confirm jobs, made from `pic`
    pic: Any = None


def _problem(target: Target, reason: str, line: int = 1, column: int = 1, text: str | None = None) -> Finding:
    frame, start = _frame(text, line, line) if text is not None else ((), 0)
    return Finding(KC000.code, KC000.name, reason, target.display, line, column, line, column,
                   KC000.severity, frame=frame, frame_start=start)


def _frame(text: str, line: int, end_line: int) -> tuple[tuple[str, ...], int]:
    lines = text.splitlines()
    start = max(1, line - FRAME_BEFORE)
    stop = min(len(lines), max(line, min(end_line, line + FRAME_MAX - 1)))
    return tuple(lines[start - 1 : stop]), start


def prepare(target: Target, plan: Plan) -> FileResult | _Work:
    """Read and prefilter one file: no parsing happens here."""
    cells = None
    try:
        data = read_bytes(target.path)
        if target.path.suffix == ".ipynb":  # from here on, `data` is the code cells as Python
            from kerascheck import notebook

            data, cells = notebook.to_source(data)
    except Unreadable as exc:
        return FileResult(target.display, (_problem(target, exc.message, exc.line, exc.column),) if plan.kc000 else ())
    silenced = file_noqa(data)
    if silenced is not None and not silenced:
        return FileResult(target.display, skipped=True)
    ignored = plan.ignored_codes(target.path) | (silenced or frozenset())
    kc000 = plan.kc000 and KC000.code not in ignored
    seen: dict[bytes, bool] = {}
    rules = tuple(r for r in plan.rules if r.code not in ignored and r.wanted(data, seen))
    try:
        text = decode(data)
    except Unreadable as exc:
        return FileResult(target.display, (_problem(target, exc.message, exc.line, exc.column),) if kc000 else ())
    unused_noqa = None
    if plan.unused_noqa is not None and b"noqa" in data.lower():
        from kerascheck import noqa_unused

        unused_noqa = noqa_unused.not_judged(plan, ignored)
    if not rules:
        if unused_noqa is not None:  # no rule can fire, so every kerascheck code in a noqa is unused
            from kerascheck import noqa_unused

            found = noqa_unused.findings(text, target.display, set(), unused_noqa)
            result = FileResult(target.display, tuple(found), skipped=True)
            if cells is not None:
                from kerascheck import notebook

                result = notebook.map_result(result, cells)
            return result
        return FileResult(target.display, skipped=True)
    settings = plan.settings
    lines = text.count("\n") + 1
    if lines > settings.max_lines or len(data) > settings.max_bytes:
        reason = (f"file too large to check ({lines} lines, {len(data)} bytes; "
                  f"limits: max-lines {settings.max_lines}, max-bytes {settings.max_bytes})")
        return FileResult(target.display, (_problem(target, reason),) if kc000 else ())
    return _Work(target, text, rules, kc000, plan.options, unused_noqa, cells=cells, confirm=plan.confirm)


# ------------------------------------------------------------------ stage 2


def analyze(work: _Work, full_parse: bool = False) -> FileResult:
    """Parse once, build the picture once, run the file's rules over it."""
    try:
        return _analyze(work, full_parse)
    except RecursionError:
        # Legal but very deep code (e.g. 180 nested brackets) can exhaust the stack of the
        # tree walks; the file is reported, the run goes on.
        found = (_problem(work.target, "too deeply nested to analyze"),) if work.kc000 else ()
        return FileResult(work.target.display, found, parsed=True)


def _analyze(work: _Work, full_parse: bool) -> FileResult:
    from kerascheck.names import Names
    from kerascheck.parse import parse_lines
    from kerascheck.picture import build

    target = work.target
    keep = None if full_parse else tuple(sorted({w for r in work.rules for w in r.keep}))
    try:
        module, layout = parse_lines(work.text, target.display, keep)
    except Unreadable as exc:
        found = (_problem(target, exc.message, exc.line, exc.column, work.text),) if work.kc000 else ()
        return FileResult(target.display, found, parsed=True)
    try:
        pic = build(module, Names(module))
    except RecursionError:
        raise
    except Exception as exc:  # a bug in the picture must not stop the run
        found = (_problem(target, f"internal error while analyzing the file: {type(exc).__name__}: {exc}"),) \
            if work.kc000 else ()
        return FileResult(target.display, found, parsed=True)
    if work.confirm:
        work.pic = pic
    hits = []
    problems = []
    for rule in work.rules:
        try:
            found = rule.check(pic, work.options[rule.code]) if rule.options is not None else rule.check(pic)
            hits.extend((rule, hit) for hit in found)
        except RecursionError:
            raise
        except Exception as exc:  # a crash in one rule must not hide the others
            if work.kc000:
                problems.append(_problem(target, f"internal error in rule {rule.code} ({rule.name}): "
                                         f"{type(exc).__name__}: {exc}"))
    used: set[tuple[int, str]] | None = set() if work.unused_noqa is not None else None
    findings = _findings(work, module, layout, hits, used) if hits else []
    if used is not None and not problems:  # a crashed rule may have had hits that a noqa silenced
        from kerascheck import noqa_unused

        findings += noqa_unused.findings(work.text, target.display, used, work.unused_noqa)
    unique = {f.sort_key(): f for f in findings + problems}
    return FileResult(target.display, tuple(unique[k] for k in sorted(unique)), parsed=True)


def _line_ref(work: _Work, line: int, at: int) -> int | str:
    """A line number as a message shows it: in a notebook, counted in its cell."""
    if work.cells is None:
        return line
    from kerascheck import notebook

    return notebook.line_label(work.cells, line, at)


def _findings(work: _Work, module, layout, hits, used: set[tuple[int, str]] | None = None) -> list[Finding]:
    """Hits -> findings; `used` collects the (line, code) of each noqa that silenced one."""
    from kerascheck.positions import positions as locate

    positions = locate(module, layout, [n for _, hit in hits for n in (hit.node, *hit.related.values())])
    noqa = _noqa_lines(work.text)
    source_lines = re.split(r"\r\n|\r|\n", work.text)
    out = []
    for rule, hit in hits:
        where = positions.get(hit.node)
        if where is None:
            continue
        line, column = where.start.line, where.start.column + 1
        codes = noqa.get(line, frozenset({"-"}))
        if not codes or rule.code in codes:
            if used is not None:
                used.add((line, rule.code))
            continue
        fmt = dict(hit.fmt)
        for key, node in hit.related.items():
            rel = positions.get(node)
            fmt[f"{key}_line"] = _line_ref(work, rel.start.line, line) if rel is not None else "?"
        message = (hit.message or rule.message).format(**fmt)
        frame, start = _frame(work.text, line, where.end.line)
        out.append(Finding(rule.code, rule.name, message, work.target.display, line, column,
                           where.end.line, where.end.column + 1, rule.severity,
                           frame=frame, frame_start=start,
                           snippet=_snippet(source_lines, where.start, where.end)))
        if work.confirm:
            from dataclasses import replace

            out[-1] = replace(out[-1], job=_confirm_job(work, rule, hit))
    return out


def _confirm_job(work: _Work, rule: Rule, hit) -> dict[str, Any]:
    """The rule's `confirm_job(hit, pic, text)` (see kerascheck/confirm/__init__.py); never raises."""
    make = getattr(rule.module, "confirm_job", None)
    if make is None or getattr(rule.module, "confirm", None) is None:
        return {"_unavailable": f"{rule.code} has no confirm recipe yet"}
    try:
        job = make(hit, work.pic, work.text)
    except Exception as exc:  # a broken recipe must not stop the lint
        return {"_unavailable": f"internal error in {rule.code}'s confirm_job: {type(exc).__name__}: {exc}"}
    if job is None:
        return {"_unavailable": f"{rule.code}'s confirm recipe does not cover this case"}
    if isinstance(job, str):
        return {"_unavailable": job}
    return job


SNIPPET_MAX = 200


def _snippet(lines: list[str], start, end) -> str:
    """The flagged code without whitespace: unchanged by re-indenting or by edits elsewhere."""
    if start.line == end.line:
        text = lines[start.line - 1][start.column : end.column]
    else:
        text = "\n".join([lines[start.line - 1][start.column :], *lines[start.line : end.line - 1],
                          lines[end.line - 1][: end.column]])
    return "".join(text.split())[:SNIPPET_MAX]


_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+[0-9]+(?:\s*,?\s*[A-Za-z]+[0-9]+)*))?", re.I)


def _noqa_lines(text: str) -> dict[int, frozenset[str]]:
    """Line -> codes silenced there (an empty set: everything)."""
    if "noqa" not in text.lower():
        return {}
    found: dict[int, frozenset[str]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type != tokenize.COMMENT:
                continue
            match = _NOQA.search(tok.string)
            if match is None:
                continue
            codes = match.group("codes")
            found[tok.start[0]] = frozenset(re.findall(r"[A-Za-z]+[0-9]+", codes.upper())) if codes else frozenset()
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


# ------------------------------------------------------------------ the run


@dataclass
class RunResult:
    files: list[FileResult]
    seconds: float

    @property
    def findings(self) -> list[Finding]:
        return sorted((f for r in self.files for f in r.findings), key=Finding.sort_key)

    @property
    def parsed(self) -> int:
        return sum(r.parsed for r in self.files)

    @property
    def skipped(self) -> int:
        return sum(r.skipped for r in self.files)

    @property
    def cached(self) -> int:
        return sum(r.cached for r in self.files)


_POOL_WORK: list[_Work] = []
_POOL_FULL = False


def _pool_task(index: int) -> FileResult:
    return analyze(_POOL_WORK[index], _POOL_FULL)


def _finish(work: _Work, result: FileResult, cache) -> FileResult:
    """Notebook findings back at their cells' own lines; the result into the cache."""
    if work.cells is not None:
        from kerascheck import notebook

        result = notebook.map_result(result, work.cells)
    if cache is not None:
        cache.store(work, result)
    return result


def run(targets: list[Target], plan: Plan, jobs: int | None = None, cache=None, progress=None) -> RunResult:
    """`cache`: a kerascheck.cache.Cache, or None; `progress(n)` is told of each n files done."""
    global _POOL_WORK, _POOL_FULL
    started = time.perf_counter()
    # Python-level recursion does not use the C stack on 3.11+; libcst's tree walks need room.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    results: list[FileResult | None] = []
    work: list[tuple[int, _Work]] = []
    for target in targets:
        prepared = prepare(target, plan)
        if isinstance(prepared, _Work) and cache is not None:
            prepared = cache.lookup(prepared) or prepared
        if isinstance(prepared, _Work):
            work.append((len(results), prepared))
            results.append(None)
        else:
            results.append(prepared)
            if progress is not None:
                progress(1)
    jobs = jobs or plan.settings.jobs or os.cpu_count() or 1
    full = plan.settings.full_parse
    if work:
        import kerascheck.picture  # noqa: F401  (import libcst once, before forking)

    if len(work) >= 2 and jobs > 1 and os.name == "posix" and sys.platform != "darwin":
        # fork (Linux): the workers inherit the parsed rules and libcst, nothing is pickled in.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # Largest first, so no worker is left with a big file at the end.
        work.sort(key=lambda item: -len(item[1].text))
        _POOL_WORK, _POOL_FULL = [w for _, w in work], full
        try:
            with ProcessPoolExecutor(max_workers=min(jobs, len(work)),
                                     mp_context=multiprocessing.get_context("fork")) as pool:
                done = []
                for result in pool.map(_pool_task, range(len(work)), chunksize=1):
                    done.append(result)
                    if progress is not None:
                        progress(1)
        finally:
            _POOL_WORK = []
        for (index, item), result in zip(work, done):
            results[index] = _finish(item, result, cache)
    else:
        for index, item in work:
            results[index] = _finish(item, analyze(item, full), cache)
            if progress is not None:
                progress(1)
    return RunResult([r for r in results if r is not None], time.perf_counter() - started)
