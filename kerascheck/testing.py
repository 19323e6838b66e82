"""Helpers for testing rules: check a source string in-process, as the engine would."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from kerascheck import engine, registry
from kerascheck.config import Settings
from kerascheck.discover import Target

EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>KC\d{3}(?:\s*,\s*KC\d{3})*)")


def check_source(source: str, select: tuple[str, ...] | None = None, full_parse: bool = False,
                 settings: Settings | None = None) -> list[engine.Finding]:
    """Findings for `source`, checked as a file named example.py."""
    settings = settings or Settings(full_parse=full_parse)
    enabled = registry.enabled(select or settings.select, settings.ignore)
    plan = engine.Plan.make(settings, registry.load(), enabled)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "example.py"
        path.write_text(source, encoding="utf-8")
        result = engine.run([Target(path, "example.py")], plan, jobs=1)
    return result.findings


def expected_lines(source: str) -> set[tuple[int, str]]:
    """(line, code) pairs marked `# expect: KCnnn` in an example."""
    found = set()
    for number, line in enumerate(source.splitlines(), 1):
        match = EXPECT.search(line)
        if match:
            found.update((number, c.strip()) for c in match.group("codes").split(","))
    return found
