"""Helpers for testing rules: check a source string in memory, as the engine would."""

from __future__ import annotations

import re

from kerascheck.config import Settings
from kerascheck.engine import check_text
from kerascheck.finding import Finding
from kerascheck.lines import split_lines

EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>KC\d{3}(?:\s*,\s*KC\d{3})*)")


def check_source(source: str, select: tuple[str, ...] | None = None, full_parse: bool = False,
                 settings: Settings | None = None, path: str = "example.py") -> list[Finding]:
    """Findings for `source`, checked as a file named `path`, in memory."""
    settings = settings or Settings(full_parse=full_parse)
    if select is not None:
        from dataclasses import replace

        settings = replace(settings, select=tuple(select))
    return check_text(source, path, settings)


def expected_lines(source: str) -> set[tuple[int, str]]:
    """(line, code) pairs marked `# expect: KCnnn` in an example."""
    found = set()
    for number, line in enumerate(split_lines(source), 1):
        match = EXPECT.search(line)
        if match:
            found.update((number, c.strip()) for c in match.group("codes").split(","))
    return found
