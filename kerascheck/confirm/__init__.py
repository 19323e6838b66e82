"""Confirm mode: turn each finding into a measured verdict by building the code with TensorFlow.

`kerascheck check --confirm` lints as usual, then builds every finding's *job* (jobs.py: the
file is analysed again, the rule re-run, and the rule's recipe `kerascheck.rules.confirm.kcNNN`
asked for the job) and hands the jobs to a child process (`python -m kerascheck.confirm.child`)
per Keras version: "3", and "2" for code written for Keras 2 (target.py; that child runs with
TF_USE_LEGACY_KERAS=1). Each child imports TensorFlow once and runs the recipes' `confirm()`.
Nothing in this package imports TensorFlow except `child.py` (and `probe.py`, which only the
child uses); lint mode never imports this package.

A recipe module (rules/confirm/kcNNN.py) defines:

    def job(hit, ctx, index) -> dict | str | None
        Runs in the parent (no TensorFlow). Returns a JSON-able job for `confirm()`, usually
        `Slicer(ctx.picture, ctx.text, ctx).job(...)` (slice.py): the source slice to execute (the
        file's imports and the top-level definitions the flagged code uses, at their original line
        numbers), the locals the flagged expressions read (defaults, helpers' arguments, values
        synthesised from parameter names: listed in "synthesised"), input-shape plans
        (shapes.py), the Keras version (target.py) and whatever the recipe needs. A string is the
        reason it cannot be built ("could not build: <reason>"); None means "no recipe for this case".

    def confirm(job: dict, probe: Probe) -> Verdict
        Runs in the child, with TensorFlow imported. `probe.namespace(job)` executes the slice
        (raises CouldNotBuild with the reason when an import or a definition fails);
        `probe.eval(source, ns)` evaluates one of the job's expressions in it; `probe.tf`,
        `probe.keras` (the child's Keras), `probe.np` are the modules. Return
        `probe.confirmed(evidence)`, `probe.not_reproduced(evidence)` or raise
        `CouldNotBuild(reason)`; any other exception becomes `could not build: <Type>: <message>`
        (ANSI codes stripped), a MemoryError `could not build: memory limit: ...`. The evidence is
        one line: what was measured, with the figures and the threshold; the child appends the
        synthesised values and, for Keras 2, the Keras it used and why.

    def lookalikes(ctx, index) -> Iterator[dict]     (optional, for tests)
        Jobs for the clean look-alikes of a file (code the rule rightly leaves alone); the test
        suite runs them through `confirm()` and requires `not reproduced`.

The runner adds "rule" (the code) and "path" to every job; keys starting with "_" are reserved
for the framework. Time limit (per finding), memory cap, `sys.exit`/`os._exit`, crashes,
output and the temporary working directory are handled by runner.py/child.py, not by recipes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONFIRMED, NOT_REPRODUCED, COULD_NOT_BUILD = "confirmed", "not reproduced", "could not build"
DEFAULT_TIMEOUT = 60.0  # seconds per finding
DEFAULT_MEMORY_MB = 4096  # RLIMIT_DATA of the child (TensorFlow itself needs ~0.7 GB)
# What confirm mode needs first (kerascheck is not on PyPI yet); the `confirm` extra also holds
# tf-keras, which Keras 2 code needs (without it that code is `could not build: missing dependency`).
INSTALL_HINT = "pip install tensorflow"


class CouldNotBuild(Exception):
    """Raised by a recipe (or the probe) when the flagged code cannot be built: the reason."""


@dataclass(frozen=True)
class Verdict:
    verdict: str  # CONFIRMED, NOT_REPRODUCED or COULD_NOT_BUILD
    evidence: str  # one line: the measurement, or why it could not be built
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "evidence": self.evidence, "seconds": round(self.seconds, 2)}


def counts_as_problem(confirm: dict[str, Any] | None) -> bool:
    """With --confirm, only a finding measured as `not reproduced` stops counting toward exit 1."""
    return confirm is None or confirm.get("verdict") != NOT_REPRODUCED
