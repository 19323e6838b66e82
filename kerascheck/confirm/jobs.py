"""From findings to confirm jobs: confirm mode receives a finding and the original text.

Lint never builds jobs (and never imports a recipe). After the lint, for each file with
findings this module parses the text whole, builds the picture, runs the finding's rule again
to get back its hit (matched by position), and asks the rule's recipe
(`kerascheck.rules.confirm.kcNNN`) for a JSON-able job. TensorFlow-free; runs in the parent.

A recipe module defines:

    def job(hit, ctx, index) -> dict | str | None
        The job for one hit: usually `Slicer(ctx.picture, ctx.text, ctx).job(...)` (slice.py); a
        string is the reason it cannot be built; None means "no recipe for this case". The job's
        "keras" ("2" or "3", target.keras_target) picks the child that builds it.
        `index` is the file's SourceIndex (ast index and libcst positions), built once per file.
    def confirm(job, probe) -> Verdict
        Runs in the child, with TensorFlow imported (see kerascheck/confirm/__init__.py).
    def lookalikes(ctx, index) -> Iterator[dict]        (optional, for tests)
        Jobs for the clean look-alikes of a file; each must come back `not reproduced`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kerascheck.facts import DEFAULT as DEFAULT_FACTS


def recipe(code: str):
    """The recipe module of a rule, or None."""
    name = f"kerascheck.rules.confirm.{code.lower()}"
    try:
        if importlib.util.find_spec(name) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(name)


def has_recipe(code: str) -> bool:
    try:
        return importlib.util.find_spec(f"kerascheck.rules.confirm.{code.lower()}") is not None
    except ModuleNotFoundError:
        return False


@dataclass
class Analysis:
    """One file parsed whole, with a context per rule and each rule's hits at their positions."""

    index: Any  # SourceIndex
    contexts: dict[str, Any]  # code -> Context
    hits: dict[tuple[str, int, int], Any]  # (code, line, column) -> Hit


def analyse(text: str, path: str, rules, options: dict[str, dict] | None = None, facts=DEFAULT_FACTS) -> Analysis:
    """Parse `text` whole and run `rules` over it; raises what parsing raises."""
    from kerascheck.confirm.source_index import SourceIndex
    from kerascheck.names import Names
    from kerascheck.parse import parse_relevant
    from kerascheck.picture import build
    from kerascheck.rule import Context

    parsed = parse_relevant(text, path, None)
    pic = build(parsed.module, Names(parsed.module, walrus=":=" in text), text)
    index = SourceIndex(text, parsed.module)
    contexts, hits = {}, {}
    for rule in rules:
        ctx = Context(pic, text, path, (options or {}).get(rule.code, {}), facts)
        contexts[rule.code] = ctx
        for hit in rule.check(ctx):
            where = index.positions.get(hit.node)
            if where is not None:
                hits.setdefault((rule.code, where.start.line, where.start.column + 1), hit)
    return Analysis(index, contexts, hits)


def _source(path: str, data: bytes) -> tuple[str, Any]:
    """The Python text of a file (a notebook's code cells joined) and its cell map."""
    from kerascheck import notebook
    from kerascheck.source import decode

    cells = None
    if path.endswith(".ipynb"):
        data, cells = notebook.to_source(data)
    return decode(data), cells


def _joined(cells, cell: int | None, line: int, column: int) -> tuple[int, int]:
    if cells is None or cell is None:
        return line, column
    from kerascheck import notebook

    return notebook.to_joined(cells, cell, line, column)


def build_jobs(findings: list, plan, read=None) -> list[dict[str, Any]]:
    """One job per finding, in order: the recipe's job, or {"_unavailable": reason}.

    `read(path) -> bytes` gives a file's bytes (default: from disk, where the lint read them).
    """
    from kerascheck import registry

    read = read or (lambda p: Path(p).read_bytes())
    rules = {r.code: r for r in registry.load()}
    jobs: list[dict[str, Any] | None] = [None] * len(findings)
    by_path: dict[str, list[int]] = {}
    for i, f in enumerate(findings):
        if f.code not in rules:
            jobs[i] = {"_unavailable": f"{f.code} has no confirm recipe"}
        elif not has_recipe(f.code):
            jobs[i] = {"_unavailable": f"{f.code} has no confirm recipe yet"}
        else:
            by_path.setdefault(f.path, []).append(i)
    files = list(by_path.items())

    def task(item: tuple[str, list[int]]) -> list[dict[str, Any]]:
        path, indexes = item
        return list(_file_jobs(path, [findings[i] for i in indexes], rules, plan, read))

    def done(k: int, made) -> None:
        path, indexes = files[k]
        if isinstance(made, workers.Failed):
            made = [{"_unavailable": f"the file could not be analysed again: {failure_reason(made, settings)}"}
                    ] * len(indexes)
        for i, job in zip(indexes, made):
            jobs[i] = job

    # Parsed whole again: in guarded workers, as the lint parses (a crash costs this file's jobs).
    from kerascheck import workers
    from kerascheck.config import Settings
    from kerascheck.engine import failure_reason

    settings = plan.settings if plan is not None else Settings()
    if workers.available():
        workers.run(files, task, jobs=min(len(files), os.cpu_count() or 1) or 1, timeout=settings.file_timeout,
                    memory_mb=settings.file_memory, done=done)
    else:
        for k, item in enumerate(files):
            done(k, task(item))
    return jobs  # type: ignore[return-value]


def _file_jobs(path: str, findings: list, rules: dict, plan, read) -> Iterator[dict[str, Any]]:
    try:
        text, cells = _source(path, read(path))
        wanted = [rules[c] for c in sorted({f.code for f in findings})]
        facts = DEFAULT_FACTS
        if plan is not None:  # the file's own facts, as the lint had them (its project's Keras target)
            from kerascheck import notebook

            facts = plan.facts_for(Path(path), notebook.original_text(cells) if cells else text, path)
        analysis = analyse(text, path, wanted, plan.options if plan is not None else None, facts)
    except Exception as exc:  # noqa: BLE001 - the file changed or cannot be analysed again
        for _ in findings:
            yield {"_unavailable": f"the file could not be analysed again: {type(exc).__name__}: {exc}"}
        return
    for f in findings:
        elsewhere = sorted({r.path for r in f.related if r.path is not None and r.path != f.path})
        if elsewhere:  # found with the project index: its code is not all in this file
            yield {"_unavailable": f"the finding spans files ({', '.join(elsewhere)}): confirm mode builds one file"}
            continue
        hit = analysis.hits.get((f.code, *_joined(cells, f.cell, f.line, f.column)))
        if hit is None:
            yield {"_unavailable": "the finding was not found again in the file (was it changed?)"}
            continue
        try:
            made = recipe(f.code).job(hit, analysis.contexts[f.code], analysis.index)
        except Exception as exc:  # noqa: BLE001 - a broken recipe must not stop the run
            yield {"_unavailable": f"internal error in {f.code}'s confirm recipe: {type(exc).__name__}: {exc}"}
            continue
        if made is None:
            yield {"_unavailable": f"{f.code}'s confirm recipe does not cover this case"}
        elif isinstance(made, str):
            yield {"_unavailable": made}
        else:
            if "keras" not in made:  # the recipe did not say: what the project and the file say
                from kerascheck.confirm.target import keras_target

                made.update(keras_target(analysis.contexts[f.code]))
            yield made
