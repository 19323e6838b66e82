"""Confirm mode: turn each finding into a measured verdict by building the code with TensorFlow.

`kerascheck check --confirm` lints as usual, then hands every finding's *job* to ONE child process
(`python -m kerascheck.confirm.child`) that imports TensorFlow once and runs the rule's recipe.
Nothing in this package imports TensorFlow except `child.py` (and `probe.py`, which only the
child uses); lint mode never imports this package's child side.

The recipe protocol: a rule module may define three functions next to `check()`:

    def confirm_job(hit: Hit, pic: Picture, text: str) -> dict | str | None
        Runs in the lint worker (no TensorFlow). Returns a JSON-able job for `confirm()`,
        usually `Slicer(pic, text).job(...)` (see slice.py): it carries the source slice to
        execute (the file's imports and the top-level definitions the flagged code uses, at
        their original line numbers) plus whatever the recipe needs (constructor-call sources,
        shapes, ...). A string is the reason it cannot be built ("could not build: <reason>");
        None means "no recipe for this case".

    def confirm(job: dict, probe: Probe) -> Verdict
        Runs in the child, with TensorFlow imported. `probe.namespace(job)` executes the slice
        (raises CouldNotBuild with the reason when an import or a definition fails);
        `probe.eval(source, ns)` evaluates one of the job's expressions in it; `probe.tf`,
        `probe.keras`, `probe.np` are the modules. Return `probe.confirmed(evidence)`,
        `probe.not_reproduced(evidence)` or raise `CouldNotBuild(reason)`; any other exception
        becomes `could not build: <Type>: <message>` (ANSI codes stripped). The evidence is one
        line: what was measured, with the figures and the threshold.

    def confirm_lookalikes(pic: Picture, text: str) -> Iterator[dict]     (optional, for tests)
        Jobs for the clean look-alikes of a file (code the rule rightly leaves alone); the test
        suite runs them through `confirm()` and requires `not reproduced`.

The child adds "rule" (the code) and "path" to every job; keys starting with "_" are reserved
for the framework. Time limit (per finding), memory cap, `sys.exit`/`os._exit`, crashes,
output and the temporary working directory are handled by runner.py/child.py, not by recipes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONFIRMED, NOT_REPRODUCED, COULD_NOT_BUILD = "confirmed", "not reproduced", "could not build"
DEFAULT_TIMEOUT = 60.0  # seconds per finding
DEFAULT_MEMORY_MB = 4096  # RLIMIT_DATA of the child (TensorFlow itself needs ~0.7 GB)
INSTALL_HINT = "pip install tensorflow"  # what the `confirm` extra holds; kerascheck is not on PyPI yet


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
