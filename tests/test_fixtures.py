"""The real engine on fixtures/**/*.py, diffed against each sibling .expected.

`.expected` holds sorted `LINE:COL CODE message` lines (empty = clean).
`KERASCHECK_UPDATE=1 pytest tests/test_fixtures.py` rewrites them: review
that diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kerascheck import engine, registry
from kerascheck.config import Settings
from kerascheck.discover import Target

ROOT = Path(__file__).resolve().parent.parent
# fixtures/projects/ are whole projects (their config and dependency files count): tests/test_target.py
# checks them from their own folder through the command line.
FIXTURES = sorted(p for p in (ROOT / "fixtures").rglob("*.py") if "projects" not in p.relative_to(ROOT / "fixtures").parts)


def _run(paths, full_parse=False, enabled=None):
    settings = Settings(root=ROOT, full_parse=full_parse)
    if enabled is None:
        enabled = registry.enabled(None, ())
    plan = engine.Plan.make(settings, registry.load(), enabled)
    targets = [Target(p, p.relative_to(ROOT).as_posix()) for p in paths]
    return engine.run(targets, plan, jobs=1)


def _render(findings) -> str:
    return "".join(f"{f.line}:{f.column} {f.code} {f.message}\n" for f in findings)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.relative_to(ROOT / "fixtures").as_posix() for p in FIXTURES])
def test_fixture(path: Path):
    # The default rules, plus the fixture folder's own rule when it is opt-in (`info`).
    enabled = registry.enabled(None, ())
    own = "KC" + path.parent.name[2:]
    if path.parent.name.startswith("kc") and own in {r.code for r in registry.load()}:
        enabled |= {own}
    got = _render(_run([path], enabled=enabled).findings)
    expected_path = path.with_suffix(".expected")
    if os.environ.get("KERASCHECK_UPDATE"):
        expected_path.write_text(got, encoding="utf-8")
    assert expected_path.exists(), f"{expected_path.name} is missing: every fixture has its expected findings"
    assert got == expected_path.read_text(encoding="utf-8")


def test_partial_parse_changes_nothing_on_fixtures():
    """Blanking the functions no rule needs must not change a single finding."""
    every = registry.enabled([r.code for r in registry.load()], ())  # opt-in rules too
    partial = _run(FIXTURES, enabled=every).findings
    full = _run(FIXTURES, full_parse=True, enabled=every).findings
    assert [f.to_json() for f in partial] == [f.to_json() for f in full]
    assert partial, "the fixtures have findings"


def _installed(package: str) -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec(package)  # finds the package without importing it
    return Path(spec.origin).parent if spec is not None and spec.origin else None


@pytest.mark.parametrize("package", ["keras", "tf_keras"])
def test_partial_parse_changes_nothing_on_installed_corpus(package):
    """The same check on a large real corpus: the installed Keras sources."""
    import json

    from tests.conftest import run_cli

    root = _installed(package)
    if root is None:
        pytest.skip(f"{package} is not installed")
    runs = [run_cli("check", str(root), "--output-format", "json", "--no-cache", "--exit-zero", *flag)
            for flag in ((), ("--full-parse",))]
    partial, full = (json.loads(r.stdout) for r in runs)
    assert partial == full
    assert partial, f"kerascheck finds something in {package}: the comparison compares findings"
