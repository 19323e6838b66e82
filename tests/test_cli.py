"""The command line as a user runs it: a subprocess, exit codes, output, config."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import run_cli

BAD = textwrap.dedent("""\
    import keras
    from keras import layers

    model = keras.Sequential([
        layers.Dense(16, activation="relu"),
        layers.Dropout(0.5),
        layers.BatchNormalization(),
    ])
""")
GOOD = BAD.replace("layers.Dropout(0.5),\n    layers.BatchNormalization(),",
                   "layers.BatchNormalization(),\n    layers.Dropout(0.5),")
JSON_KEYS = {"code", "name", "message", "path", "line", "column", "end_line", "end_column",
             "severity", "fix", "confirm", "related"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "bad.py").write_text(BAD)
    (tmp_path / "models" / "good.py").write_text(GOOD)
    return tmp_path


def findings(result) -> list[dict]:
    return json.loads(result.stdout)


def test_findings_exit_1_and_text_format(project):
    result = run_cli("check", ".", cwd=project)
    assert result.returncode == 1, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("models/bad.py:7:5: KC001 Dropout (line 6) feeds BatchNormalization")
    assert "    layers.BatchNormalization()," in result.stdout  # the code frame
    assert "^^^^^^^^^^^^^^^^^^^^^^^^^^^" in result.stdout
    assert "Found 1 finding in 1 file (2 files checked, 0 skipped by prefilter) in " in result.stdout
    assert "\x1b[" not in result.stdout  # no colour when not a terminal


def test_clean_exit_0(project):
    result = run_cli("check", "models/good.py", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Found 0 findings in 0 files (1 files checked" in result.stdout


def test_exit_zero(project):
    assert run_cli("check", ".", "--exit-zero", cwd=project).returncode == 0


def test_module_entry_point_and_default_path(project):
    result = run_cli("check", cwd=project)  # default: "."
    assert result.returncode == 1
    assert "models/bad.py:7:5" in result.stdout


def test_json_keys_and_values(project):
    result = run_cli("check", "--format", "json", cwd=project)
    data = findings(result)
    assert len(data) == 1
    item = data[0]
    assert set(item) == JSON_KEYS
    assert item["code"] == "KC001" and item["name"] == "dropout-before-batchnorm"
    assert item["path"] == "models/bad.py"
    assert (item["line"], item["column"], item["end_line"], item["end_column"]) == (7, 5, 7, 32)
    assert item["severity"] == "warning" and item["fix"] is None and item["confirm"] is None


def test_path_outside_cwd_is_absolute(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("cwd")
    data = findings(run_cli("check", "--format", "json", str(project / "models"), cwd=elsewhere))
    assert data[0]["path"] == (project / "models" / "bad.py").as_posix()


def test_missing_path_is_usage_error(project):
    result = run_cli("check", "nope.py", cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip() == "kerascheck: error: path does not exist: nope.py"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flag", ["--select", "--ignore"])
def test_unknown_rule_code_is_error(project, flag):
    result = run_cli("check", ".", flag, "KC999", cwd=project)
    assert result.returncode == 2
    assert "unknown rule code: KC999" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_select_prefix_and_ignore(project):
    assert run_cli("check", ".", "--select", "KC0", cwd=project).returncode == 1
    assert run_cli("check", ".", "--select", "KC001", cwd=project).returncode == 1
    assert run_cli("check", ".", "--ignore", "KC001", cwd=project).returncode == 0
    assert run_cli("check", ".", "--select", "KC000", cwd=project).returncode == 0


def test_config_discovered_walking_up(project):
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nignore = ["KC001"]\n')
    result = run_cli("check", "bad.py", cwd=project / "models")
    assert result.returncode == 0, result.stdout


def test_pyproject_without_table_is_skipped(project):
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nignore = ["KC001"]\n')
    (project / "models" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert run_cli("check", "bad.py", cwd=project / "models").returncode == 0


def test_config_file_option(project):
    cfg = project / "custom.toml"
    cfg.write_text('select = ["KC000"]\n')
    assert run_cli("check", ".", "--config", str(cfg), cwd=project).returncode == 0
    assert run_cli("check", ".", cwd=project).returncode == 1


def test_cli_overrides_config(project):
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nignore = ["KC001"]\n')
    assert run_cli("check", ".", "--ignore", "KC000", cwd=project).returncode == 1


@pytest.mark.parametrize(("content", "needle"), [
    ('[tool.kerascheck]\nselect = ["KC042"]\n', "unknown rule code: KC042"),
    ('[tool.kerascheck]\nbogus = 1\n', "unknown configuration key 'bogus'"),
    ('[tool.kerascheck]\nselect = "KC001\n', "invalid TOML"),
    ('[tool.kerascheck]\nmax-lines = "many"\n', "'max-lines'"),
    ('[tool.kerascheck]\nper-file-ignores = { "a.py" = ["KC77"] }\n', "unknown rule code: KC77"),
])
def test_broken_config_is_error(project, content, needle):
    (project / "pyproject.toml").write_text(content)
    result = run_cli("check", ".", cwd=project)
    assert result.returncode == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_config_file(project):
    result = run_cli("check", ".", "--config", "nope.toml", cwd=project)
    assert result.returncode == 2 and "config file not found" in result.stderr


def test_per_file_ignores_and_exclude(project):
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nper-file-ignores = { "models/bad.py" = ["KC001"] }\n')
    assert run_cli("check", ".", cwd=project).returncode == 0
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nexclude = ["models/bad.py"]\n')
    result = run_cli("check", ".", cwd=project)
    assert result.returncode == 0 and "1 files checked" in result.stdout
    # An explicit file is always checked, unless --force-exclude.
    assert run_cli("check", "models/bad.py", cwd=project).returncode == 1
    assert run_cli("check", "models/bad.py", "--force-exclude", cwd=project).returncode == 0


def test_gitignore_and_default_excludes(project):
    (project / ".gitignore").write_text("generated/\n")
    for folder in ("generated", ".venv", "build", "node_modules", "__pycache__"):
        (project / folder).mkdir()
        (project / folder / "bad.py").write_text(BAD)
    data = findings(run_cli("check", "--format", "json", cwd=project))
    assert [d["path"] for d in data] == ["models/bad.py"]
    data = findings(run_cli("check", "--format", "json", "--no-respect-gitignore", cwd=project))
    assert [d["path"] for d in data] == ["generated/bad.py", "models/bad.py"]


def test_noqa_comments(project):
    bad = project / "models" / "bad.py"
    bad.write_text(BAD.replace("layers.BatchNormalization(),", "layers.BatchNormalization(),  # noqa: KC001"))
    assert run_cli("check", ".", cwd=project).returncode == 0
    bad.write_text(BAD.replace("layers.BatchNormalization(),", "layers.BatchNormalization(),  # noqa"))
    assert run_cli("check", ".", cwd=project).returncode == 0
    bad.write_text(BAD.replace("layers.BatchNormalization(),", "layers.BatchNormalization(),  # noqa: KC002"))
    assert run_cli("check", ".", cwd=project).returncode == 1
    bad.write_text(BAD.replace("layers.Dropout(0.5),", "layers.Dropout(0.5),  # noqa: KC001"))
    assert run_cli("check", ".", cwd=project).returncode == 1  # only the reported line counts


def test_file_level_noqa(project):
    bad = project / "models" / "bad.py"
    bad.write_text("# kerascheck: noqa\n" + BAD)
    assert run_cli("check", ".", cwd=project).returncode == 0
    bad.write_text("# kerascheck: noqa: KC001\n" + BAD)
    assert run_cli("check", ".", cwd=project).returncode == 0
    bad.write_text("# kerascheck: noqa: KC002\n" + BAD)
    assert run_cli("check", ".", cwd=project).returncode == 1


def test_statistics(project):
    (project / "models" / "bad2.py").write_text(BAD)
    result = run_cli("check", ".", "--statistics", cwd=project)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].split() == ["2", "KC001", "dropout-before-batchnorm"]
    data = findings(run_cli("check", ".", "--statistics", "--format", "json", cwd=project))
    assert data == [{"code": "KC001", "name": "dropout-before-batchnorm", "count": 2}]


def test_rule_docs():
    result = run_cli("rule", "KC001")
    assert result.returncode == 0
    text = result.stdout
    assert text.startswith("# dropout-before-batchnorm (KC001)")
    order = [text.index(h) for h in ("## What it does", "## Why is this bad?", "## Example", "## Use instead")]
    assert order == sorted(order)
    listing = run_cli("rule", "--all")
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0].startswith("KC000  unreadable-file")
    assert any(line.startswith("KC001  dropout-before-batchnorm") for line in lines)
    unknown = run_cli("rule", "KC999")
    assert unknown.returncode == 2 and "unknown rule code: KC999" in unknown.stderr


def test_lint_never_imports_tensorflow(project):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "kerascheck", "check", str(project),
                           "--format", "json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "libcst" in imported  # the measurement works
    assert not {"tensorflow", "keras", "tf_keras"} & imported


def test_jobs_give_identical_output(project):
    for i in range(6):
        (project / "models" / f"copy{i}.py").write_text(BAD)
    one = run_cli("check", "--format", "json", "--jobs", "1", cwd=project)
    two = run_cli("check", "--format", "json", "--jobs", "2", cwd=project)
    assert one.stdout == two.stdout and len(findings(one)) == 7
