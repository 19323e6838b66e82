"""What a check produces: findings and per-file results.

Reporters, the cache, the baseline and notebooks import this module, never the engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


def printable_path(path: str) -> str:
    """`path` as valid UTF-8 text: bytes of a file name that are not UTF-8 (which Python keeps as
    lone surrogates) become `\\xff` escapes. Reporters show paths this way; SARIF percent-encodes
    the bytes themselves instead."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    return path


@dataclass(frozen=True)
class Related:
    """Another place that belongs to a finding (the Dropout that feeds the flagged BN, ...)."""

    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    path: str | None = None  # None: the finding's own file
    cell: int | None = None  # notebooks: the cell `line` counts in
    text: str = field(default="", compare=False, repr=False)  # for the code frame: `line` as written

    def to_json(self) -> dict[str, Any]:
        data = {"message": self.message, "line": self.line, "column": self.column,
                "end_line": self.end_line, "end_column": self.end_column}
        if self.path is not None:
            data["path"] = self.path
        if self.cell is not None:
            data["cell"] = self.cell
        return data


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
    # {"applicability", "message", "edits": [{"line", "column", "end_line", "end_column", "content"}]}
    fix: dict[str, Any] | None = None
    confirm: dict[str, Any] | None = None
    related: tuple[Related, ...] = ()
    # For reporters only: source lines from `frame_start` on, around the finding.
    frame: tuple[str, ...] = field(default=(), compare=False, repr=False)
    frame_start: int = field(default=0, compare=False, repr=False)
    # The flagged code, whitespace removed (capped): a finding's identity for baselines and
    # SARIF fingerprints, which must survive line shifts. Set only for files with findings.
    snippet: str = field(default="", compare=False, repr=False)
    # Notebooks only: the 1-based cell (among all cells) that `line` counts in.
    cell: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "code": self.code, "name": self.name, "message": self.message, "path": self.path,
            "line": self.line, "column": self.column, "end_line": self.end_line,
            "end_column": self.end_column, "severity": self.severity, "fix": self.fix,
            "confirm": self.confirm, "related": [r.to_json() for r in self.related],
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
    statements: int = 0  # top-level statements and class members handed to libcst (bench figure)
