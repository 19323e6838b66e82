"""The README's snippets work as copied: its TOML and YAML parse (and mean what they say to
kerascheck, pre-commit and GitHub Actions), every `kerascheck` command in it runs with the flags
it shows, and its accuracy table is the one `bench/accuracy.csv` gives.

The pre-commit hook snippet is run by tests/test_precommit.py; the wheel's file name and the
install commands by tests/test_packaging.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)


def fenced(language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README) if lang == language]


def indented_commands() -> list[str]:
    """The shell lines of the README's indented code blocks (outside fences), as written."""
    text = FENCE.sub("", README)
    lines = []
    previous_blank = True
    in_block = False
    for line in text.splitlines():
        if line.startswith("    ") and (previous_blank or in_block):
            in_block = True
            lines.append(line[4:])
        elif line.strip():
            in_block = False
        previous_blank = not line.strip()
    return [line for line in lines if re.match(r"(kerascheck|python|pip|cat) ", line)]


def hook_snippet() -> str:
    """The pre-commit configuration the README gives (used by tests/test_precommit.py too)."""
    [snippet] = [body for body in fenced("yaml") if "repo: local" in body]
    return snippet


def test_toml_snippets_parse_and_kerascheck_accepts_them(tmp_path):
    from kerascheck import registry
    from kerascheck.config import from_table, load_table

    snippets = fenced("toml")
    assert snippets, "the README has a configuration example"
    for snippet in snippets:
        data = tomllib.loads(snippet)
        if "tool" in data:  # a pyproject.toml section: kerascheck reads it as it would the file
            path = tmp_path / "pyproject.toml"
            path.write_text(snippet)
            settings = from_table(load_table(path), path, registry.option_defaults(), registry.validate)
            assert settings.select == tuple(data["tool"]["kerascheck"]["select"])


def test_yaml_snippets_parse_and_mean_what_they_say():
    yaml = pytest.importorskip("yaml", reason="PyYAML comes with pre-commit, in the test extra")
    snippets = fenced("yaml")
    assert len(snippets) >= 3  # the pre-commit hook, the workflow, the pull-request steps
    for snippet in snippets:
        assert yaml.safe_load(snippet) is not None
    hook = yaml.safe_load(hook_snippet())
    [repo] = hook["repos"]
    [entry] = repo["hooks"]
    assert repo["repo"] == "local" and entry["language"] == "system"
    assert entry["entry"].split()[:2] == ["kerascheck", "check"]
    try:
        from pre_commit.clientlib import CONFIG_SCHEMA
        from pre_commit.yaml import yaml_load
        import cfgv
    except ImportError:  # pragma: no cover
        pytest.skip("pre-commit is in the test extra")
    cfgv.validate(yaml_load(hook_snippet()), CONFIG_SCHEMA)  # pre-commit's own check of the file
    [workflow] = [yaml.safe_load(s) for s in snippets if "jobs:" in s]
    steps = workflow["jobs"]["kerascheck"]["steps"]
    assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif") for s in steps)
    for snippet in snippets:
        assert "example.invalid" not in snippet and "git+" not in snippet  # no home to fetch from yet


def test_readme_says_it_is_not_on_pypi():
    assert "not on PyPI yet" in README
    assert "pip install kerascheck" not in README and "pip install 'kerascheck" not in README
    assert 'pip install "kerascheck' not in README
    assert 'pip install ".[confirm]"' in README
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = pyproject["project"]["optional-dependencies"]
    for extra in re.findall(r"pip install (?:-e )?['\"]\.\[(\w+)\]['\"]", README):
        assert extra in extras, extra


# ------------------------------------------------------------------ every command, run


BAD = ("import keras\nfrom keras import layers\n"
       "model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")


def _commands() -> list[str]:
    """Each `kerascheck` command of the README: code blocks and the workflows' `run:` steps."""
    found = []
    for line in indented_commands():
        for part in line.split("&&"):
            part = re.sub(r"\s+#.*$", "", part).strip()
            runs_it = any(re.match(r"(python -m )?kerascheck ", seg.strip()) for seg in part.split("|"))
            if runs_it and "[PATH" not in part:
                found.append(part)
    for snippet in fenced("yaml"):
        for run in re.findall(r"^\s*-? ?run: (.+)$", snippet, re.M):
            run = re.sub(r"\s+#.*$", "", run).strip()
            if run.startswith("kerascheck"):
                found.append(run.replace("${{ github.base_ref }}", "main"))
    return found


COMMANDS = _commands()


def test_the_commands_were_found():
    joined = "\n".join(COMMANDS)
    for needle in ("kerascheck check fixtures", "kerascheck rule KC001", "--write-baseline", "--baseline",
                   "--stdin-filename", "--changed-since origin/main", "--output-format sarif", "--confirm",
                   "--diff src/", "--fix src/", "--fix --unsafe-fixes --show-fixes src/"):
        assert needle in joined, needle


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, dict]:
    """A git repository with the files the README's commands name, and PATH leading to this
    installation's `kerascheck` script."""
    bindir = Path(sys.executable).parent
    if shutil.which("kerascheck", path=str(bindir)) is None or shutil.which("git") is None:
        pytest.skip("needs the `kerascheck` script beside this Python, and git")
    root = tmp_path_factory.mktemp("readme") / "project"
    shutil.copytree(ROOT / "fixtures", root / "fixtures")
    (root / "src").mkdir()
    (root / "src" / "model.py").write_text(BAD)
    (root / "train.py").write_text("x = 1\n")
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@localhost"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"],
                 ["update-ref", "refs/remotes/origin/main", "HEAD"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
    (root / "src" / "new.py").write_text(BAD)  # a change since origin/main
    return root, env


@pytest.mark.parametrize("command", [c for c in COMMANDS if "--confirm" not in c])
def test_readme_command_runs_as_written(project, command):
    """Exit 0 or 1 (findings), never 2: every flag, value and path it shows is accepted.
    (`--confirm` needs TensorFlow for minutes: tests/test_confirm.py runs it.)"""
    root, env = project
    baseline = re.search(r"--baseline (\S+)", command)
    if baseline and not (root / baseline.group(1)).exists():  # the README writes it first
        subprocess.run(["kerascheck", "check", "--write-baseline", baseline.group(1)], cwd=root, env=env,
                       capture_output=True, timeout=300)
    proc = subprocess.run(["bash", "-c", command], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode in (0, 1), f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert "error" not in proc.stderr.lower(), proc.stderr


# ------------------------------------------------------------------ the accuracy table


def test_accuracy_table_is_the_one_the_judgements_give():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import accuracy
    finally:
        sys.path.remove(str(ROOT / "bench"))
    rows = accuracy.read_judgements()
    keys = [(r["package"], r["path"], r["line"], r["code"]) for r in rows]
    assert len(keys) == len(set(keys)), "a finding judged twice"
    for row in rows:
        assert accuracy.PINS.get(accuracy.canonical(row["package"])) == row["version"], row
        assert "\n" not in row["reason"] and len(row["reason"]) < 200
    # The findings the judgements stand for: the table must be what the script would print.
    owner = {r["path"].split("/", 1)[0]: (accuracy.canonical(r["package"]), r["version"]) for r in rows}
    findings = [{"path": r["path"], "line": int(r["line"]), "code": r["code"]} for r in rows]
    counts, unjudged, stale = accuracy.compare(findings, rows, owner)
    assert unjudged == [] and stale == []
    table = accuracy.markdown(counts, accuracy.rule_names())
    assert table in README, "README's accuracy table is out of date: paste what bench/accuracy.py prints"


def test_accuracy_compare_reports_new_and_vanished_findings():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import accuracy
    finally:
        sys.path.remove(str(ROOT / "bench"))
    rows = [{"package": "keras", "version": accuracy.PINS["keras"], "path": "keras/a.py", "line": "3",
             "code": "KC001", "verdict": "real", "reason": "r"},
            {"package": "keras", "version": accuracy.PINS["keras"], "path": "keras/b.py", "line": "9",
             "code": "KC003", "verdict": "false", "reason": "r"},
            {"package": "keras", "version": "0.0.1", "path": "keras/c.py", "line": "1",
             "code": "KC001", "verdict": "real", "reason": "judged for another version"}]
    findings = [{"path": "keras/a.py", "line": 3, "code": "KC001"}, {"path": "keras/a.py", "line": 7, "code": "KC001"}]
    counts, unjudged, stale = accuracy.compare(findings, rows, {"keras": ("keras", accuracy.PINS["keras"])})
    assert counts["KC001"]["findings"] == 2 and counts["KC001"]["real"] == 1 and counts["KC001"]["unjudged"] == 1
    assert unjudged == [findings[1]]
    assert sorted(r["path"] for r in stale) == ["keras/b.py", "keras/c.py"]
