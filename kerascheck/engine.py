"""The per-file check: read, prefilter, parse once, build the picture once, run every rule
over it, then turn hits into findings (positions and noqa are computed only for files that
have hits).

`check_text(text, path=...)` is the whole check of one buffer, in memory: no disk, no global
state. `run(targets, plan)` wraps it for files, in parallel processes; a bad file is one KC000
finding and never stops the run.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kerascheck.config import Settings
from kerascheck.discover import Target
from kerascheck.facts import DEFAULT as DEFAULT_FACTS
from kerascheck.facts import ProjectFacts
from kerascheck.finding import FileResult, Finding, Related
from kerascheck.lines import count_lines, frame, noqa_lines, split_lines
from kerascheck.registry import KC000, KC100
from kerascheck.rule import Rule
from kerascheck.source import Unreadable, decode, file_noqa, read_bytes

RECURSION_LIMIT = 10_000  # libcst's tree walks need room; Python frames no longer use the C stack


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
    facts: ProjectFacts = DEFAULT_FACTS  # the project's facts when nothing on disk is read (`infer` off)
    infer: bool = True  # read the project's dependency files for its Keras target (kerascheck/target.py)
    _inference: Any = field(default=None, compare=False, repr=False)

    def facts_for(self, path: Path | None, text: str | None = None, display: str | None = None) -> ProjectFacts:
        """The facts of one file: the settings' Keras target, the file's own markers, the pins of
        its project (each folder's dependency files read once per plan)."""
        if self._inference is None:
            from kerascheck.target import Inference

            object.__setattr__(self, "_inference", Inference(self.settings, self.infer, self.facts))
        return self._inference.facts_for(path, text, display)

    @classmethod
    def make(cls, settings: Settings, rules: tuple[Rule, ...], enabled: set[str],
             facts: ProjectFacts = DEFAULT_FACTS, infer: bool = True) -> Plan:
        from kerascheck.registry import expand

        from kerascheck.discover import gitignore_spec

        known = tuple(r.code for r in (KC000, KC100, *rules))
        per_file = tuple(
            (gitignore_spec([pattern]), frozenset(expand(codes, known)))
            for pattern, codes in settings.per_file_ignores
        )
        chosen = tuple(r for r in rules if r.code in enabled)
        options = {r.code: settings.options_for(r.code, r.options) for r in chosen}
        unused_noqa = frozenset(known) if settings.report_unused_noqa and KC100.code in enabled else None
        return cls(settings, chosen, "KC000" in enabled, per_file, options, unused_noqa, facts, infer)

    def ignored_codes(self, path: Path | None) -> frozenset[str]:
        if not self.per_file or path is None:
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

    display: str
    path: Path | None
    text: str
    rules: tuple[Rule, ...]
    kc000: bool
    options: dict[str, dict[str, Any]]
    unused_noqa: frozenset[str] | None = None  # KC100 on: the codes it must not judge in this file
    cells: tuple | None = None  # notebooks: (first joined line, cell number, cell lines)
    facts: ProjectFacts = DEFAULT_FACTS
    parse_cache: Any = None  # parse.StatementCache: an editor's buffer, checked after every edit
    project: Any = None  # project.View: the project's other modules, as this file imports them
    deps: str = ""  # fingerprint of the project modules it imports (part of its cache key)


def _problem(display: str, reason: str, line: int = 1, column: int = 1, text: str | None = None) -> Finding:
    lines, start = frame(text, line, line) if text is not None else ((), 0)
    return Finding(KC000.code, KC000.name, reason, display, line, column, line, column,
                   KC000.severity, frame=lines, frame_start=start)


def prepare(target: Target, plan: Plan) -> FileResult | _Work:
    """Read and prefilter one file: no parsing happens here."""
    if target.problem is not None:  # found by discovery: an unreadable directory, say
        return FileResult(target.display, (_problem(target.display, target.problem),) if plan.kc000 else ())
    try:
        data = read_bytes(target.path)
    except Unreadable as exc:
        return FileResult(target.display, (_problem(target.display, exc.message, exc.line, exc.column),)
                          if plan.kc000 else ())
    return prepare_data(target.display, target.path, data, plan)


def prepare_data(display: str, path: Path | None, data: bytes, plan: Plan, project=None) -> FileResult | _Work:
    """Prefilter the bytes of one file (a notebook's JSON, or Python source).

    With `project` (a project.View), the words of the project modules the file imports count as
    its own: a BatchNormalization after an imported block that ends in Dropout is worth parsing."""
    cells = None
    if display.endswith(".ipynb"):
        from kerascheck import notebook

        try:
            data, cells = notebook.to_source(data)  # from here on, `data` is the code cells as Python
        except Unreadable as exc:
            return FileResult(display, (_problem(display, exc.message, exc.line, exc.column),) if plan.kc000 else ())
    silenced = file_noqa(data)
    if silenced is not None and not silenced:
        return FileResult(display, skipped=True)
    ignored = plan.ignored_codes(path) | (silenced or frozenset())
    kc000 = plan.kc000 and KC000.code not in ignored
    seen: dict[bytes, bool] = {}
    candidates = [r for r in plan.rules if r.code not in ignored]
    rules = tuple(r for r in candidates if r.wanted(data, seen))
    if project is not None and len(rules) < len(candidates):
        # The words of what the file imports from the project count as its own. First the cheap
        # bound (every module it imports, directly or not); only if that could add a rule, the
        # words of the functions and classes it imports (their modules' summaries).
        rough = dict.fromkeys(project.index.imported_words(project.path, precise=False), True)
        if any(r.wanted(data, {**seen, **rough}) for r in candidates if r not in rules):
            missing = {w for r in candidates if r not in rules for g in r.groups for w in g if not seen.get(w)}
            seen.update(dict.fromkeys(project.index.imported_words(project.path, wanted=missing), True))
            rules = tuple(r for r in candidates if r.wanted(data, seen))
    try:
        text = decode(data)
    except Unreadable as exc:
        return FileResult(display, (_problem(display, exc.message, exc.line, exc.column),) if kc000 else ())
    unused_noqa = None
    if plan.unused_noqa is not None and b"noqa" in data.lower():
        from kerascheck import noqa_unused

        unused_noqa = noqa_unused.not_judged(plan.unused_noqa, {r.code for r in plan.rules}, plan.kc000, ignored)
    if not rules:
        if unused_noqa is not None:  # no rule can fire, so every kerascheck code in a noqa is unused
            from kerascheck import noqa_unused

            found = noqa_unused.findings(text, display, set(), unused_noqa)
            result = FileResult(display, tuple(found), skipped=True)
            if cells is not None:
                from kerascheck import notebook

                result = notebook.map_result(result, cells)
            return result
        return FileResult(display, skipped=True)
    settings = plan.settings
    lines = count_lines(text)
    if lines > settings.max_lines or len(data) > settings.max_bytes:
        reason = (f"file too large to check ({lines} lines, {len(data)} bytes; "
                  f"limits: max-lines {settings.max_lines}, max-bytes {settings.max_bytes})")
        return FileResult(display, (_problem(display, reason),) if kc000 else ())
    if cells is not None:  # the cells as written: `%env TF_USE_LEGACY_KERAS=1` is a marker too
        from kerascheck import notebook

        marked = notebook.original_text(cells)
    else:
        marked = text
    facts = plan.facts_for(path, marked, display)
    deps = project.index.fingerprint(project.path) if project is not None else ""
    return _Work(display, path, text, rules, kc000, plan.options, unused_noqa, cells=cells, facts=facts,
                 project=project, deps=deps)


# ------------------------------------------------------------------ stage 2


def analyze(work: _Work, full_parse: bool = False) -> FileResult:
    """Parse once, build the picture once, run the file's rules over it (in this process: running
    out of memory is the file's KC000 too; a worker reports it with its cap instead)."""
    try:
        return _analyze_file(work, full_parse)
    except MemoryError:
        return _failed(work, "out of memory while analyzing the file")


def _analyze_file(work: _Work, full_parse: bool) -> FileResult:
    try:
        return _analyze(work, full_parse)
    except RecursionError:
        # Legal but very deep code (e.g. 180 nested brackets) can exhaust the stack of the
        # tree walks; the file is reported, the run goes on.
        return _failed(work, "too deeply nested to analyze")


def _failed(work: _Work, reason: str) -> FileResult:
    return FileResult(work.display, (_problem(work.display, reason),) if work.kc000 else (), parsed=True)


def _analyze(work: _Work, full_parse: bool) -> FileResult:
    from kerascheck.names import Names
    from kerascheck.parse import parse_relevant
    from kerascheck.picture import build
    from kerascheck.rule import Context

    display = work.display
    broken: list[Finding] = []
    try:
        parsed = parse_relevant(work.text, display, None if full_parse else work.rules, work.parse_cache,
                                project=work.project)
    except Unreadable as exc:
        fixed = _without_broken_cells(work, full_parse, broken) if work.cells is not None else None
        if fixed is None:
            found = (_problem(display, exc.message, exc.line, exc.column, work.text),) if work.kc000 else ()
            return FileResult(display, found, parsed=True)
        parsed, text = fixed
        work = replace(work, text=text)  # a copy: the cache keys the file by the text it read
    module = parsed.module
    try:
        pic = build(module, Names(module, walrus=":=" in work.text, project=work.project), work.text,
                    project=work.project)
    except (RecursionError, MemoryError):
        raise
    except Exception as exc:  # a bug in the picture must not stop the run
        found = (_problem(display, f"internal error while analyzing the file: {type(exc).__name__}: {exc}"),) \
            if work.kc000 else ()
        return FileResult(display, found, parsed=True, statements=parsed.statements)
    hits = []
    problems = []
    for rule in work.rules:
        ctx = Context(pic, work.text, display, work.options.get(rule.code, {}), work.facts)
        try:
            hits.extend((rule, hit) for hit in rule.check(ctx))
        except (RecursionError, MemoryError):
            raise
        except Exception as exc:  # a crash in one rule must not hide the others
            if work.kc000:
                problems.append(_problem(display, f"internal error in rule {rule.code} ({rule.name}): "
                                         f"{type(exc).__name__}: {exc}"))
    used: set[tuple[int, str]] | None = set() if work.unused_noqa is not None else None
    findings = _findings(work, parsed, hits, used, pic) if hits else []
    if used is not None and not problems:  # a crashed rule may have had hits that a noqa silenced
        from kerascheck import noqa_unused

        findings += noqa_unused.findings(work.text, display, used, work.unused_noqa)
    unique = {f.sort_key(): f for f in findings + problems + broken}
    return FileResult(display, tuple(unique[k] for k in sorted(unique)), parsed=True,
                      statements=parsed.statements)


def _without_broken_cells(work: _Work, full_parse: bool, broken: list[Finding]):
    """A notebook whose joined cells do not parse: blank each cell that is broken on its own (one
    KC000 each, into `broken`) and parse the rest; None if that does not help."""
    from kerascheck import notebook
    from kerascheck.parse import parse_relevant

    original = work.text
    text, problems = notebook.blank_broken(original, work.cells)
    if not problems:
        return None
    try:
        parsed = parse_relevant(text, work.display, None if full_parse else work.rules)
    except Unreadable:
        return None
    if work.kc000:
        broken.extend(_problem(work.display, f"{message} (this cell is not checked; the other cells are)",
                               line, column, original) for line, column, message in problems)
    return parsed, text


def _line_ref(work: _Work, line: int, at: int) -> int | str:
    """A line number as a message shows it: in a notebook, counted in its cell."""
    if work.cells is None:
        return line
    from kerascheck import notebook

    return notebook.line_label(work.cells, line, at)


def _nodes(hit) -> list:
    nodes = [hit.node]
    for value in hit.related.values():
        nodes.append(value[0] if isinstance(value, tuple) else value)
    if hit.fix is not None:
        for edit in hit.fix.edits:
            nodes.append(edit.node)
            if edit.end is not None:
                nodes.append(edit.end)
    return nodes


def _findings(work: _Work, parsed, hits, used: set[tuple[int, str]] | None = None, pic=None) -> list[Finding]:
    """Hits -> findings; `used` collects the (line, code) of each noqa that silenced one.

    A node of another module's definition (loaded into the picture: `crossfile.Entry`) is
    reported with that file's path and lines. A hit on such a node is a finding of this file only
    when something else it names was not reached through the same place of this file (a
    KerasTensor of this file that a helper hands to `tf.reduce_sum`): it is reported at that
    place (the call), and the node in the other file becomes a related location. A hit wholly
    inside what one call reached is the other file's own finding, reported when it is checked."""
    from kerascheck.positions import positions as locate

    entry_of = pic.entry_of if pic is not None else (lambda node: None)
    kept = []
    for rule, hit in hits:
        entry = entry_of(hit.node)
        if entry is not None and all(entry_of(n) is not None and entry_of(n).anchor is entry.anchor
                                     for n in _nodes(hit)[1:]):
            continue  # wholly inside what this file called: the other file's own finding
        kept.append((rule, hit, entry))
    local = [n for _, hit, _ in kept for n in _nodes(hit) if entry_of(n) is None]
    local += [entry.anchor for _, _, entry in kept if entry is not None]
    positions = locate(parsed.module, parsed.layout, local) if local else {}

    def where(node):
        """(path shown, CodeRange) of a node; path None for this file."""
        entry = entry_of(node)
        if entry is None:
            return None, positions.get(node)
        return _shown(entry.path), entry.position(node)

    noqa = noqa_lines(work.text)
    source_lines = split_lines(work.text)
    out = []
    for rule, hit, entry in kept:
        reported = entry.anchor if entry is not None else hit.node
        here = positions.get(reported)
        if here is None:
            continue
        line, column = here.start.line, here.start.column + 1
        codes = noqa.get(line, frozenset({"-"}))
        if not codes or rule.code in codes:
            if used is not None:
                used.add((line, rule.code))
            continue
        fmt = dict(hit.fmt)
        related = []
        for key, value in hit.related.items():
            node, label = value if isinstance(value, tuple) else (value, None)
            other, rel = where(node)
            if rel is None:
                fmt[f"{key}_line"] = "?"
                continue
            fmt[f"{key}_line"] = f"{rel.start.line} of {other}" if other is not None else \
                _line_ref(work, rel.start.line, line)
            module = entry_of(node).module if other is not None else parsed.module
            related.append(Related(label or _label(module, node), rel.start.line, rel.start.column + 1,
                                   rel.end.line, rel.end.column + 1, path=other,
                                   text=_line_text(entry_of(node), source_lines, rel.start.line)))
        message = (hit.message or rule.message).format(**fmt)
        fix = _fix(hit.fix, positions) if entry is None else None
        if entry is not None:  # the flagged code is in the other file: say where
            other, rel = where(hit.node)
            if rel is not None:
                message += f" (at line {rel.start.line} of {other}, reached from here)"
                related.insert(0, Related(f"flagged here, reached from line {line}", rel.start.line, rel.start.column + 1,
                                          rel.end.line, rel.end.column + 1, path=other,
                                          text=_line_text(entry, source_lines, rel.start.line)))
        lines, start = frame(work.text, line, here.end.line)
        out.append(Finding(rule.code, rule.name, message, work.display, line, column,
                           here.end.line, here.end.column + 1, rule.severity,
                           fix=fix, related=tuple(related),
                           frame=lines, frame_start=start,
                           snippet=_snippet(source_lines, here.start, here.end)))
    return out


def _line_text(entry, source_lines: list[str], line: int) -> str:
    """A related place's line as written (for the code frame): in this file, or in the other one."""
    lines = source_lines if entry is None else entry.lines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


def _shown(path: Path) -> str:
    """Another file's path as findings show paths: relative to the current folder when under it."""
    from kerascheck.discover import display_path

    return display_path(Path(path), Path.cwd())


def _label(module, node) -> str:
    code = " ".join(module.code_for_node(node).split())
    return code if len(code) <= 60 else code[:57] + "..."


def _fix(fix, positions) -> dict[str, Any] | None:
    """A rule's Fix as the JSON-able shape findings carry; None if an edit cannot be placed."""
    if fix is None:
        return None
    edits = []
    for edit in fix.edits:
        start = positions.get(edit.node)
        end = positions.get(edit.end) if edit.end is not None else start
        if start is None or end is None:
            return None
        begin, stop = (start.start, end.end)
        if edit.at == "before":
            stop = begin
        elif edit.at == "after":
            begin = stop
        elif edit.at == "until":
            stop = end.start
        edits.append({"line": begin.line, "column": begin.column + 1, "end_line": stop.line,
                      "end_column": stop.column + 1, "content": edit.content})
    return {"applicability": fix.applicability, "message": fix.message, "edits": edits}


SNIPPET_MAX = 200


def _snippet(lines: list[str], start, end) -> str:
    """The flagged code without whitespace: unchanged by re-indenting or by edits elsewhere."""
    if start.line > len(lines):
        return ""
    if start.line == end.line:
        text = lines[start.line - 1][start.column : end.column]
    else:
        text = "\n".join([lines[start.line - 1][start.column :], *lines[start.line : end.line - 1],
                          lines[end.line - 1][: end.column] if end.line <= len(lines) else ""])
    return "".join(text.split())[:SNIPPET_MAX]


# ------------------------------------------------------------------ in memory


@contextmanager
def recursion_room():
    """Room for libcst's deep tree walks, given back afterwards."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def check_text(text: str, path: str | os.PathLike = "<stdin>", settings: Settings | None = None,
               facts: ProjectFacts | None = None, plan: Plan | None = None, cache=None,
               index=None) -> list[Finding]:
    """Every finding for one buffer, as a file at `path` would get them (its notebook-ness,
    per-file ignores, noqa comments), computed in memory: nothing is written.

    `settings` default to kerascheck's defaults (every default rule on), and the Keras target is
    `facts` (default Keras 3) refined by the buffer's own markers. `plan` may be given instead,
    when many buffers share one: a plan from `Plan.make` reads the dependency files of the
    project around `path` for the Keras target (once per folder and plan). `cache`, a `parse.StatementCache` kept with a buffer
    that is checked again after each edit, spares re-parsing the statements that did not change.
    `index`, a `project.Index`, gives the project's other modules (the buffer is added to it as
    the file at `path`); without one, an index of `path`'s project is made, which reads only
    the modules the buffer imports, and only when the analysis reaches them (`index=False`: none).
    """
    from kerascheck import registry

    if plan is None:
        settings = settings or Settings()
        enabled = registry.enabled(settings.select, settings.ignore, settings.extend_select)
        plan = Plan.make(settings, registry.load(), enabled, facts or DEFAULT_FACTS, infer=False)
    elif facts is not None:
        plan = replace(plan, facts=facts, infer=False, _inference=None)
    display = os.fspath(path)
    # Absolute, so that per-file ignores (relative to the config's folder) match from any directory.
    real = Path(display).absolute() if display not in ("<stdin>", "-") else None
    data = text.encode("utf-8", "surrogatepass")
    view = project_view(real, data, plan, index)
    with recursion_room():
        prepared = prepare_data(display, real, data, plan, view)
        if not isinstance(prepared, FileResult):
            prepared.parse_cache = cache
        result = prepared if isinstance(prepared, FileResult) else \
            _finish(prepared, analyze(prepared, plan.settings.full_parse), None)
    return sorted(result.findings, key=Finding.sort_key)


def project_view(path: Path | None, data: bytes, plan: Plan, index=None, keep: bool = True):
    """How the project looks from the file at `path` holding `data` (a `project.View`), or None:
    no path, `index=False`, or project analysis off. Without an `index`, one of `path`'s project
    is made, which reads only the modules the file imports, when the analysis reaches them.
    `keep`: the index holds `data` as the file's text (an editor's buffer), not only its imports."""
    if path is None or index is False or not plan.settings.project:
        return None
    if index is None:
        from kerascheck.project import Index

        index = Index.for_file(path, _src_roots(plan.settings), index_words())
    index.add(path, data, keep=keep)
    return index.view(path)


def index_words() -> tuple[bytes, ...]:
    """The prefilter words of every rule: what the index looks for in the modules a file imports."""
    from kerascheck import registry

    words: dict[bytes, None] = {}
    for rule in registry.load():
        for group in rule.groups:
            words.update(dict.fromkeys(group))
    return tuple(words)


def _src_roots(settings: Settings) -> tuple[Path, ...]:
    return tuple(settings.root / s for s in getattr(settings, "src", ()))


def make_index(settings: Settings, store: dict | None = None):
    """The project index of a run: the project root above the configuration's folder (or the
    current one; none without a project marker), and the configured `src` roots."""
    from kerascheck.project import Index, project_root

    return Index(project_root(settings.root), _src_roots(settings), index_words(), store=store)


# ------------------------------------------------------------------ the run


@dataclass
class RunResult:
    files: list[FileResult]
    seconds: float
    project: Any = None  # the project index the run made (project.Index)
    dependents: tuple[int, int] = (0, 0)  # (checked because affected, candidates) of `run(dependents=)`
    fixed: int = 0  # fixes applied by --fix (the findings they removed are not in `files`)

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

    @property
    def statements(self) -> int:
        return sum(r.statements for r in self.files)


def _finish(work: _Work, result: FileResult, cache) -> FileResult:
    """Notebook findings back at their cells' own lines; the result into the cache."""
    if work.cells is not None:
        from kerascheck import notebook

        result = notebook.map_result(result, work.cells)
    if cache is not None:
        cache.store(work, result)
    return result


def run(targets: list[Target], plan: Plan, jobs: int | None = None, cache=None, progress=None,
        index=None, dependents: list[Target] = ()) -> RunResult:
    """`cache`: a kerascheck.cache.Cache, or None; `progress(n)` is told of each n files done.

    First the project index: every file is read once and scanned for its imports (no parse), so
    each file knows the project modules it imports, the prefilter words they hold and their
    fingerprint (part of its cache key). `index` may be given (a `project.Index`), e.g. with
    more files than the targets. `dependents` are files that import the targets (`--changed-since`, or a
    few files named by pre-commit): each is checked, and reported, only when the index says the
    targets may have changed its result (the cache holds no result for it with the fingerprint
    of what it imports now).

    Stage 1 (the index, reading, prefilter, cache look-ups) runs here; stage 2 (parse and
    analysis) runs in guarded worker processes (kerascheck/workers.py), so a file that crashes
    libcst, hangs or eats memory is one KC000 and the run goes on. The workers are forked after
    stage 1, so the work items and the index reach them without being pickled."""
    started = time.perf_counter()
    if index is None:
        index = make_index(plan.settings, cache.summaries if cache is not None else None)
    elif cache is not None:
        index.store = cache.summaries
    project = plan.settings.project
    read: list[bytes | FileResult] = []
    targets = [*targets, *dependents]
    for target in targets:
        if target.problem is not None:  # found by discovery: an unreadable directory, say
            read.append(FileResult(target.display, (_problem(target.display, target.problem),) if plan.kc000 else ()))
            continue
        try:
            data = read_bytes(target.path)
        except Unreadable as exc:
            read.append(FileResult(target.display, (_problem(target.display, exc.message, exc.line, exc.column),)
                                   if plan.kc000 else ()))
            continue
        if project:
            index.add(target.path, data, keep=False)
        read.append(data)
    results: list[FileResult | None] = []
    work: list[tuple[int, _Work]] = []
    first_dependent = len(targets) - len(dependents)
    affected = 0
    for number, (target, data) in enumerate(zip(targets, read)):
        prepared = data if isinstance(data, FileResult) else \
            prepare_data(target.display, target.path, data, plan, index.view(target.path) if project else None)
        if number >= first_dependent:  # a dependent: only when its result may have changed
            if not isinstance(prepared, _Work) or (cache is not None and cache.lookup(prepared) is not None):
                if progress is not None:
                    progress(1)
                continue
            affected += 1
        if isinstance(prepared, _Work) and cache is not None:
            prepared = cache.lookup(prepared) or prepared
        if isinstance(prepared, _Work):
            work.append((len(results), prepared))
            results.append(None)
        else:
            results.append(prepared)
            if progress is not None:
                progress(1)
    del read
    if work:
        _analyze_all(work, plan, jobs or plan.settings.jobs or os.cpu_count() or 1, cache, progress, results,
                     index.new_summaries)
    if cache is not None:
        cache.summaries_made(index.new_summaries)
    return RunResult([r for r in results if r is not None], time.perf_counter() - started, index,
                     dependents=(affected, len(dependents)))


def _analyze_all(work: list[tuple[int, _Work]], plan: Plan, jobs: int, cache, progress,
                 results: list[FileResult | None], summaries: dict) -> None:
    """Stage 2 for every work item, in at most `jobs` guarded workers (in process without fork).
    `summaries`: the project index's new module summaries, to which the workers' are added."""
    from kerascheck import workers

    full = plan.settings.full_parse
    jobs = min(jobs, len(work))
    if jobs > 1:
        _warm_up(plan)  # once, rather than once per worker
    if not workers.available():
        with recursion_room():
            for i, item in work:
                results[i] = _finish(item, analyze(item, full), cache)
                if progress is not None:
                    progress(1)
        return
    items = [w for _, w in work]

    def done(i: int, outcome) -> None:
        index, item = work[i]
        if isinstance(outcome, workers.Failed):
            # Not cached: a crash or a time limit says as much about the machine as about the file.
            results[index] = _finish(item, _failed(item, failure_reason(outcome, plan.settings)), None)
        else:
            result, made = outcome
            summaries.update(made)
            results[index] = _finish(item, result, cache)
        if progress is not None:
            progress(1)

    # Largest first, so no worker is left with a big file at the end.
    order = sorted(range(len(items)), key=lambda i: -len(items[i].text))
    workers.run(items, functools.partial(_worker_task, full=full), jobs=jobs,
                timeout=plan.settings.file_timeout, memory_mb=plan.settings.file_memory, done=done, order=order)


_WARM = ("import keras\nfrom keras import layers\n\n"
         "def build(x):\n    x = layers.Dense(3, kernel_constraint=keras.constraints.NonNeg())(x)\n"
         "    return layers.BatchNormalization()(layers.Dropout(0.5)(x))\n")
_warmed = False


def _warm_up(plan: Plan) -> None:
    """Everything a file's analysis loads or caches on first use (libcst's native parser, the
    positions code, the caches of the model and the rules), done once in this process before
    several workers fork, so that none does it again: one small file through the analysis."""
    global _warmed
    if _warmed:
        return
    _warmed = True
    try:
        prepared = prepare_data("warm_up.py", None, _WARM.encode(), replace(plan, per_file=()))
        if isinstance(prepared, _Work):
            with recursion_room():
                analyze(prepared)
    except Exception:  # noqa: BLE001 - only a head start: the workers do the real work
        pass


def analyze_guarded(work: _Work, plan: Plan) -> FileResult:
    """One file's stage 2 in a guarded worker (in process without fork), as `run` does it: what
    `--fix` checks after each pass, so a fixed text that crashes or stalls libcst is a KC000
    (and the file is left as it was), never the end of the run."""
    from kerascheck import workers

    full = plan.settings.full_parse
    if not workers.available():
        return analyze(work, full)
    got = []
    workers.run([work], functools.partial(_worker_task, full=full), jobs=1, timeout=plan.settings.file_timeout,
                memory_mb=plan.settings.file_memory, done=lambda _, outcome: got.append(outcome))
    [outcome] = got
    if isinstance(outcome, workers.Failed):
        return _failed(work, failure_reason(outcome, plan.settings))
    result, made = outcome
    if work.project is not None:
        work.project.index.new_summaries.update(made)
    return result


def _worker_task(item: _Work, full: bool) -> tuple[FileResult, dict]:
    """A file's result, and the module summaries its analysis made (the main process caches them)."""
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)  # a worker's own: libcst's deep tree walks need room
    result = _analyze_file(item, full)  # a MemoryError reaches the pool, which names the cap
    made = {}
    if item.project is not None and item.project.index.new_summaries:
        made = item.project.index.new_summaries
        item.project.index.new_summaries = {}
    return result, made


def failure_reason(failed, settings: Settings) -> str:
    """KC000's message for a file whose worker gave no result."""
    if failed.kind == "timeout":
        return f"timed out after {settings.file_timeout:g} s of CPU time (limit: file-timeout)"
    if failed.kind == "memory":
        return f"memory limit exceeded (limit: file-memory {settings.file_memory} MB)"
    if failed.kind == "signal":
        return f"parser crashed (signal {failed.signal}, {failed.detail})"
    if failed.kind == "exit":
        return f"the analysis process ended unexpectedly ({failed.detail})"
    return f"internal error while analyzing the file: {failed.detail}"
