"""The real engine on the multi-file projects in fixtures/projects/crossfile_*/, each diffed against
the sibling `<project>.expected`.

A project is checked as `kerascheck check <project>` checks it, from inside its folder (paths in
messages are relative to the current folder): `.expected` holds sorted `PATH:LINE:COL CODE message`
lines. Each file is also checked alone, as pre-commit or an editor checks one file, and must get
the same findings (the index is then built for the modules it imports only); and the related
locations in other files are checked. `KERASCHECK_UPDATE=1 pytest tests/test_project_fixtures.py`
rewrites the `.expected` files: review that diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kerascheck import engine, registry
from kerascheck.config import Settings
from kerascheck.discover import Target

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = sorted(p for p in (ROOT / "fixtures" / "projects").glob("crossfile_*") if p.is_dir())


def files(project: Path) -> list[Path]:
    return sorted(project.rglob("*.py"))


def run(project: Path, paths: list[Path], full_parse: bool = False, enabled=None):
    settings = Settings(root=project, full_parse=full_parse)
    plan = engine.Plan.make(settings, registry.load(), enabled or registry.enabled(None, ()))
    targets = [Target(p, p.relative_to(project).as_posix()) for p in paths]
    return engine.run(targets, plan, jobs=1)


def render(findings) -> str:
    return "".join(f"{f.path}:{f.line}:{f.column} {f.code} {f.message}\n" for f in findings)


@pytest.fixture
def inside(monkeypatch):
    def enter(project: Path) -> None:
        monkeypatch.chdir(project)
    return enter


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_project(project: Path, inside):
    inside(project)
    got = render(run(project, files(project)).findings)
    expected = project.with_suffix(".expected")
    if os.environ.get("KERASCHECK_UPDATE"):
        expected.write_text(got, encoding="utf-8")
    assert expected.exists(), f"{expected.name} is missing: every project has its expected findings"
    assert got == expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_each_file_alone_gets_the_same_findings(project: Path, inside):
    """A run on one file (pre-commit, an editor) reads the modules it imports on demand; so does
    the in-memory API, a buffer checked as a file of the project."""
    inside(project)
    whole = run(project, files(project)).findings
    for path in files(project):
        shown = path.relative_to(project).as_posix()
        mine = [f for f in whole if f.path == shown]
        assert [f for f in run(project, [path]).findings if f.path == shown] == mine, shown
        got = engine.check_text(path.read_text(encoding="utf-8"), shown, Settings(root=project))
        assert [f.to_json() for f in got] == [f.to_json() for f in mine], shown
        if any(f.related for f in got):
            alone = engine.check_text(path.read_text(encoding="utf-8"), shown, Settings(root=project), index=False)
            assert all(r.path is None for f in alone for r in f.related)


def test_partial_parse_changes_nothing_on_projects(inside):
    every = registry.enabled([r.code for r in registry.load()], ())  # opt-in rules too
    for project in PROJECTS:
        inside(project)
        partial = run(project, files(project), enabled=every).findings
        full = run(project, files(project), full_parse=True, enabled=every).findings
        assert [f.to_json() for f in partial] == [f.to_json() for f in full], project.name


def test_related_locations_name_the_other_file(inside):
    project = ROOT / "fixtures" / "projects" / "crossfile_kc001"
    inside(project)
    found = {(f.path, f.line): f for f in run(project, files(project)).findings}
    bn = found[("train.py", 9)]
    assert [r.to_json() for r in bn.related] == [
        {"message": "the Dropout that feeds it", "line": 6, "column": 9, "end_line": 6, "end_column": 29,
         "path": "netlib/blocks.py"}]
    assert "Dropout (line 6 of netlib/blocks.py) feeds BatchNormalization" in bn.message
    # The BN is in the helper, the Dropout here: reported at the call, the BN is a related place.
    call = found[("train.py", 18)]
    assert (call.column, call.end_column) == (5, 17)
    assert call.message.endswith("(at line 30 of netlib/blocks.py, reached from here)")
    assert call.related[0].path == "netlib/blocks.py" and call.related[0].line == 30
    assert call.fix is None
