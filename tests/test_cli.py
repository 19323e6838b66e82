"""The command line: exit codes, output, config. In process (click's runner), except what needs a
process of its own: the entry point, exit codes end to end, imports at start-up, worker processes."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import invoke, run_cli

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
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def checked(result) -> int:
    """The number of files the text summary says were checked."""
    match = re.search(r"\((\d+) files? checked", result.stdout)
    assert match, result.stdout + result.stderr
    return int(match.group(1))


# ------------------------------------------------------------------ end to end, in a process


def test_module_entry_point_exit_1_and_default_path(project):
    result = run_cli("check", cwd=project)  # default: "."
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("models/bad.py:7:5: KC001 ")
    assert result.stderr == ""


def test_clean_exit_0_end_to_end(project):
    result = run_cli("check", "models/good.py", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed! (1 file checked" in result.stdout


def test_missing_path_is_usage_error(project):
    result = run_cli("check", "nope.py", cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip() == "kerascheck: error: path does not exist: nope.py"
    assert result.stdout == ""


def test_lint_never_imports_tensorflow(project):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "kerascheck", "check", str(project),
                           "--output-format", "json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "libcst" in imported  # the measurement works
    assert not {"tensorflow", "keras", "tf_keras"} & imported


def test_jobs_give_identical_output(project):
    for i in range(6):
        (project / "models" / f"copy{i}.py").write_text(BAD)
    # --no-cache: both runs really check every file (a cached run would not use the workers).
    one = run_cli("check", "--no-cache", "--output-format", "json", "--jobs", "1", cwd=project)
    two = run_cli("check", "--no-cache", "--output-format", "json", "--jobs", "2", cwd=project)
    assert one.returncode == two.returncode == 1, one.stderr + two.stderr
    assert len(findings(one)) == 7
    assert one.stdout == two.stdout
    assert not (project / ".kerascheck_cache").exists()


# ------------------------------------------------------------------ in process


def test_findings_exit_1_and_text_format(project):
    result = invoke("check", ".", cwd=project)
    assert result.returncode == 1, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("models/bad.py:7:5: KC001 Dropout (line 6) feeds BatchNormalization")
    assert "    layers.BatchNormalization()," in result.stdout  # the code frame
    assert "^^^^^^^^^^^^^^^^^^^^^^^^^^^" in result.stdout
    assert "Found 1 finding in 1 file (2 files checked, 0 skipped by prefilter) in " in result.stdout
    assert "\x1b[" not in result.stdout  # no colour when not a terminal


def test_exit_zero(project):
    result = invoke("check", ".", "--exit-zero", cwd=project)
    assert result.returncode == 0
    assert "models/bad.py:7:5: KC001" in result.stdout  # still reported


def test_json_keys_and_values(project):
    result = invoke("check", "--output-format", "json", cwd=project)
    assert result.returncode == 1
    data = findings(result)
    assert len(data) == 1
    item = data[0]
    assert set(item) == JSON_KEYS
    assert item["code"] == "KC001" and item["name"] == "dropout-before-batchnorm"
    assert item["path"] == "models/bad.py"
    assert (item["line"], item["column"], item["end_line"], item["end_column"]) == (7, 5, 7, 32)
    assert item["severity"] == "warning" and item["confirm"] is None
    assert item["fix"]["applicability"] == "unsafe"  # the swap of the Dropout and the BN
    assert [e["line"] for e in item["fix"]["edits"]] == [6, 7]


def test_path_outside_cwd_is_absolute(project, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("cwd")
    data = findings(invoke("check", "--output-format", "json", str(project / "models"), cwd=elsewhere))
    assert [d["path"] for d in data] == [(project / "models" / "bad.py").as_posix()]


@pytest.mark.parametrize("flag", ["--select", "--ignore"])
def test_unknown_rule_code_is_error(project, flag):
    result = invoke("check", ".", flag, "KC999", cwd=project)
    assert result.returncode == 2
    assert f"unknown rule code: KC999 (in {flag})" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_select_prefix_and_ignore(project):
    assert invoke("check", ".", "--select", "KC0", cwd=project).returncode == 1
    assert invoke("check", ".", "--select", "KC001", cwd=project).returncode == 1
    assert invoke("check", ".", "--select", "KC002,KC001", cwd=project).returncode == 1
    for args in (("--ignore", "KC001"), ("--select", "KC000"), ("--select", "KC0", "--ignore", "KC001")):
        result = invoke("check", ".", *args, cwd=project)
        assert result.returncode == 0, (args, result.stdout)
        assert checked(result) == 2  # the files were checked, and found clean


def test_config_discovered_walking_up(project):
    assert invoke("check", "bad.py", cwd=project / "models").returncode == 1
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nignore = ["KC001"]\n')
    result = invoke("check", "bad.py", cwd=project / "models")
    assert result.returncode == 0, result.stdout
    assert checked(result) == 1


def test_pyproject_without_table_is_skipped(project):
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nignore = ["KC001"]\n')
    (project / "models" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    result = invoke("check", "bad.py", cwd=project / "models")
    assert result.returncode == 0 and checked(result) == 1


def test_config_file_option(project):
    cfg = project / "custom.toml"
    cfg.write_text('select = ["KC000"]\n')
    result = invoke("check", ".", "--config", str(cfg), cwd=project)
    assert result.returncode == 0 and checked(result) == 2
    assert invoke("check", ".", cwd=project).returncode == 1


def test_cli_overrides_config(project):
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nignore = ["KC001"]\n')
    assert invoke("check", ".", cwd=project).returncode == 0
    assert invoke("check", ".", "--ignore", "KC000", cwd=project).returncode == 1


@pytest.mark.parametrize(("content", "needle"), [
    ('[tool.kerascheck]\nselect = ["KC042"]\n', "'select' in pyproject.toml is invalid: unknown rule code: KC042"),
    ('[tool.kerascheck]\nbogus = 1\n', "unknown configuration key 'bogus' in pyproject.toml"),
    ('[tool.kerascheck]\nselect = "KC001\n', "invalid TOML"),
    ('[tool.kerascheck]\nper-file-ignores = { "a.py" = ["KC77"] }\n',
     """'per-file-ignores."a.py"' in pyproject.toml is invalid: unknown rule code: KC77"""),
    ('[tool.kerascheck.kc004]\nbogus = true\n', "unknown option 'kc004.bogus' in pyproject.toml"),
    ('[tool]\nkerascheck = 1\n', "[tool.kerascheck] in pyproject.toml must be a table"),
])
def test_broken_config_is_error(project, content, needle):
    (project / "pyproject.toml").write_text(content)
    result = invoke("check", ".", cwd=project)
    assert result.returncode == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


TYPE_ERRORS = [  # (the [tool.kerascheck] body, the key the message must name, what it must say)
    ('select = "KC002"', "select", 'must be a list of strings, e.g. ["KC001"], not the string "KC002"'),
    ('select = "KC002, KC003"', "select", 'not the string "KC002, KC003"'),
    ("select = [1]", "select", "not a list holding an integer"),
    ('ignore = "KC001"', "ignore", "must be a list of strings"),
    ("ignore = [true]", "ignore", "not a list holding a boolean"),
    ('exclude = "legacy/"', "exclude", "must be a list of strings"),
    ('extend-exclude = ["a", 2]', "extend-exclude", "not a list holding an integer"),
    ('per-file-ignores = ["tests/*"]', "per-file-ignores", "must be a table of glob = [codes]"),
    ('per-file-ignores = { "tests/*" = "KC001" }', 'per-file-ignores."tests/*"', "must be a list of strings"),
    ('per-file-ignores = { a_b = [1.5] }', "per-file-ignores.a_b", "not a list holding a float"),
    ('respect-gitignore = "yes"', "respect-gitignore", "must be true or false"),
    ("respect-gitignore = 1", "respect-gitignore", "not an integer"),
    ('max-lines = "many"', "max-lines", "must be a positive integer"),
    ("max-lines = 0", "max-lines", "must be a positive integer, not 0"),
    ("max-bytes = true", "max-bytes", "not a boolean"),
    ("max-bytes = 1.5", "max-bytes", "not a float"),
    ("jobs = [2]", "jobs", "not a list"),
    ("jobs = 1979-05-27", "jobs", "not a date"),
    ("kc004 = true", "kc004", "must be a table of KC004's options"),
    ('kc004 = { legacy-keras = "yes" }', "kc004.legacy-keras", 'must be true or false, not the string "yes"'),
    ("kc004 = { legacy-keras = 1 }", "kc004.legacy-keras", "not an integer"),
]


@pytest.mark.parametrize(("body", "key", "says"), TYPE_ERRORS, ids=[t[0] for t in TYPE_ERRORS])
def test_config_type_error_names_file_and_key(project, body, key, says):
    (project / "pyproject.toml").write_text(f"[tool.kerascheck]\n{body}\n")
    result = invoke("check", ".", cwd=project)
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"kerascheck: error: '{key}' in pyproject.toml "), line
    assert says in line, line


def test_config_type_error_names_the_file_it_is_in(project, tmp_path_factory):
    """A kerascheck.toml (top-level keys) or a --config file elsewhere: named as it can be found."""
    (project / "models" / "kerascheck.toml").write_text('ignore = "KC001"\n')
    result = invoke("check", ".", cwd=project / "models")
    assert result.stderr.startswith("kerascheck: error: 'ignore' in kerascheck.toml must be a list of strings")
    elsewhere = tmp_path_factory.mktemp("cfg") / "custom.toml"
    elsewhere.write_text("jobs = 0\n")
    result = invoke("check", ".", "--config", str(elsewhere), cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip() == f"kerascheck: error: 'jobs' in {elsewhere.as_posix()} must be a positive integer, not 0"


def test_valid_config_of_every_kind_is_accepted(project):
    """The control for the type errors above: the same keys, well typed, check the tree."""
    (project / "pyproject.toml").write_text(textwrap.dedent("""\
        [tool.kerascheck]
        select = ["KC0"]
        ignore = ["KC003"]
        exclude = ["legacy/"]
        extend-exclude = ["*_pb2.py"]
        per-file-ignores = { "tests/*" = ["KC001"] }
        respect-gitignore = true
        max-lines = 1000
        max-bytes = 100000
        jobs = 1

        [tool.kerascheck.kc004]
        legacy-keras = true
    """))
    result = invoke("check", ".", cwd=project)
    assert result.returncode == 1, result.stderr
    assert checked(result) == 2


def test_missing_config_file(project):
    result = invoke("check", ".", "--config", "nope.toml", cwd=project)
    assert result.returncode == 2 and "config file not found: nope.toml" in result.stderr


def test_per_file_ignores_and_exclude(project):
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nper-file-ignores = { "models/bad.py" = ["KC001"] }\n')
    result = invoke("check", ".", cwd=project)
    assert result.returncode == 0 and checked(result) == 2
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nexclude = ["models/bad.py"]\n')
    result = invoke("check", ".", cwd=project)
    assert result.returncode == 0 and checked(result) == 1
    # An explicit file is always checked, unless --force-exclude.
    assert invoke("check", "models/bad.py", cwd=project).returncode == 1
    result = invoke("check", "models/bad.py", "--force-exclude", cwd=project)
    assert result.returncode == 0 and checked(result) == 0


def test_gitignore_and_default_excludes(project):
    (project / ".gitignore").write_text("generated/\n")
    for folder in ("generated", ".venv", "build", "node_modules", "__pycache__"):
        (project / folder).mkdir()
        (project / folder / "bad.py").write_text(BAD)
    data = findings(invoke("check", "--output-format", "json", cwd=project))
    assert [d["path"] for d in data] == ["models/bad.py"]
    data = findings(invoke("check", "--output-format", "json", "--no-respect-gitignore", cwd=project))
    assert [d["path"] for d in data] == ["generated/bad.py", "models/bad.py"]


def test_noqa_comments(project):
    bad = project / "models" / "bad.py"
    for comment, code in (("  # noqa: KC001", 0), ("  # noqa", 0), ("  # noqa: KC002", 1)):
        bad.write_text(BAD.replace("layers.BatchNormalization(),", "layers.BatchNormalization()," + comment))
        result = invoke("check", ".", cwd=project)
        assert result.returncode == code, comment
        assert checked(result) == 2
    bad.write_text(BAD.replace("layers.Dropout(0.5),", "layers.Dropout(0.5),  # noqa: KC001"))
    assert invoke("check", ".", cwd=project).returncode == 1  # only the reported line counts


def test_file_level_noqa(project):
    bad = project / "models" / "bad.py"
    for header, code in (("# kerascheck: noqa\n", 0), ("# kerascheck: noqa: KC001\n", 0),
                         ("# kerascheck: noqa: KC002\n", 1)):
        bad.write_text(header + BAD)
        result = invoke("check", ".", cwd=project)
        assert result.returncode == code, header
        assert checked(result) == 2


def test_statistics(project):
    (project / "models" / "bad2.py").write_text(BAD)
    result = invoke("check", ".", "--statistics", cwd=project)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].split() == ["2", "KC001", "dropout-before-batchnorm"]
    data = findings(invoke("check", ".", "--statistics", "--output-format", "json", cwd=project))
    assert data == [{"code": "KC001", "name": "dropout-before-batchnorm", "count": 2}]


def test_rule_docs():
    result = invoke("rule", "KC001")
    assert result.returncode == 0
    text = result.stdout
    assert text.startswith("# dropout-before-batchnorm (KC001)")
    order = [text.index(h) for h in ("## What it does", "## Why is this bad?", "## Example", "## Use instead")]
    assert order == sorted(order)
    listing = invoke("rule", "--all")
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert lines[0].startswith("KC000  unreadable-file")
    assert any(line.startswith("KC001  dropout-before-batchnorm") for line in lines)
    unknown = invoke("rule", "KC999")
    assert unknown.returncode == 2 and "unknown rule code: KC999" in unknown.stderr


def test_every_check_option_is_a_request_field():
    """click hands its options to CheckRequest by name: an option without a field (or a
    field no option fills) would break every run, so it is caught here."""
    from kerascheck.cli import CheckRequest, check

    assert {p.name for p in check.params if p.expose_value} == {f.name for f in dataclasses.fields(CheckRequest)}
    request = CheckRequest(select=("KC001, KC002", "KC003"), no_respect_gitignore=True)
    assert request.paths == (".",)
    overrides = request.overrides()
    assert overrides["select"] == ("KC001", "KC002", "KC003") and overrides["ignore"] is None
    assert overrides["respect_gitignore"] is False and overrides["exclude"] is None


def test_format_is_a_hidden_alias_of_output_format(project):
    """ruff's name is the option; the old `--format` still works but is not advertised."""
    new = invoke("check", "--output-format", "json", cwd=project)
    old = invoke("check", "--format", "json", cwd=project)
    assert new.returncode == old.returncode == 1
    assert findings(new) == findings(old) and len(findings(new)) == 1
    help_text = invoke("check", "--help").stdout
    assert "--output-format" in help_text and "--format" not in help_text.replace("--output-format", "")
    bad = invoke("check", "--format", "xml", cwd=project)
    assert bad.returncode == 2
    assert "Invalid value for '--output-format'" in bad.stderr and "'--format'" not in bad.stderr
