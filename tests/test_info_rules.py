"""Opt-in `info` rules (KC012, KC014): selected only by their exact code, and visible in every
output format once selected. KC009's unsafe fix as the JSON report carries it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kerascheck import registry
from kerascheck.testing import check_source
from tests.conftest import run_cli

INFO = ("import keras\nfrom keras import layers\n"
        "model = keras.Sequential([keras.Input((8,)), layers.Dense(16), layers.BatchNormalization()])\n")


def test_info_rules_are_off_by_default_and_the_others_on():
    rules = registry.load()
    assert {r.code for r in rules if r.severity == "info"} >= {"KC012", "KC014"}
    for rule in rules:
        assert rule.default is (rule.severity != "info"), rule.code


@pytest.mark.parametrize("select,on", [
    (None, False),
    (["KC012"], True),
    (["kc012"], True),
    (["KC0"], False),  # a prefix turns on only the default rules it covers
    (["KC01"], False),
    (["ALL"], False),
    (["KC0", "KC012"], True),
])
def test_an_info_rule_needs_its_exact_code(select, on):
    codes = registry.enabled(select, ())
    assert ("KC012" in codes) is on
    if select is not None and select != ["KC012"] and select != ["kc012"]:
        assert "KC013" in codes  # the default rules the prefix covers stay on
    assert "KC012" not in registry.enabled(["KC012"], ["KC012"])
    assert "KC012" not in registry.enabled(["KC012"], ["KC01"])  # ignore by prefix still works
    assert registry.enabled(None, (), ["KC012"]) == registry.enabled(None, ()) | {"KC012"}  # --extend-select
    assert "KC012" not in registry.enabled(None, (), ["KC01"])


def test_check_text_runs_an_info_rule_only_when_selected():
    assert [f.code for f in check_source(INFO)] == []
    [finding] = check_source(INFO, select=("KC012",))
    assert (finding.code, finding.severity, finding.line) == ("KC012", "info", 3)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "model.py").write_text(INFO)
    return tmp_path


def test_info_is_off_without_select_from_the_command_line_and_the_config(project):
    result = run_cli("check", ".", "--output-format", "json", cwd=project)
    assert result.returncode == 0 and json.loads(result.stdout) == [], result.stderr
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nselect = ["KC0", "KC012"]\n')
    result = run_cli("check", ".", "--output-format", "json", cwd=project)
    assert [f["code"] for f in json.loads(result.stdout)] == ["KC012"], result.stderr
    (project / "pyproject.toml").unlink()
    result = run_cli("check", ".", "--output-format", "json", "--extend-select", "KC012", cwd=project)
    assert [f["code"] for f in json.loads(result.stdout)] == ["KC012"], result.stderr


def test_info_findings_show_in_every_format(project):
    args = ("check", ".", "--select", "KC012")
    text = run_cli(*args, cwd=project)
    assert text.returncode == 1, text.stderr
    assert text.stdout.startswith("model.py:3:46: KC012 Dense's bias is cancelled")
    assert "Found 1 finding in 1 file" in text.stdout

    [finding] = json.loads(run_cli(*args, "--output-format", "json", cwd=project).stdout)
    assert (finding["code"], finding["severity"], finding["fix"]) == ("KC012", "info", None)

    log = json.loads(run_cli(*args, "--output-format", "sarif", cwd=project).stdout)
    [result] = log["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("KC012", "note")
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert rules[result["ruleIndex"]]["defaultConfiguration"] == {"level": "note"}

    github = run_cli(*args, "--output-format", "github", cwd=project).stdout.splitlines()
    assert len(github) == 1 and github[0].startswith("::notice file=model.py,line=3,col=46,")
    assert ",title=KC012::Dense's bias is cancelled" in github[0]

    stats = json.loads(run_cli(*args, "--output-format", "json", "--statistics", cwd=project).stdout)
    assert stats == [{"code": "KC012", "name": "bias-before-batchnorm", "count": 1}]


def test_kc009_carries_an_unsafe_fix_with_the_keras_value(tmp_path):
    (tmp_path / "m.py").write_text(
        "from keras import layers\nMOM = 0.1\n"
        "a = layers.BatchNormalization(momentum=0.1)\n"
        "b = layers.BatchNormalization(momentum=0.03)\n"
        "c = layers.BatchNormalization(momentum=MOM)\n"
        "d = layers.BatchNormalization(momentum=0)\n")
    result = run_cli("check", ".", "--output-format", "json", cwd=tmp_path)
    findings = {f["line"]: f for f in json.loads(result.stdout)}
    assert sorted(findings) == [3, 4, 5]  # not 0: no PyTorch value means that
    fix = findings[3]["fix"]
    assert fix["applicability"] == "unsafe" and "momentum=0.9" in fix["message"]
    assert fix["edits"] == [{"line": 3, "column": 40, "end_line": 3, "end_column": 43, "content": "0.9"}]
    assert findings[4]["fix"]["edits"][0]["content"] == "0.97"
    assert findings[5]["fix"] is None  # a named constant is not rewritten at one use
    source = (tmp_path / "m.py").read_text().splitlines()
    edit = fix["edits"][0]
    line = source[edit["line"] - 1]
    fixed = line[: edit["column"] - 1] + edit["content"] + line[edit["end_column"] - 1:]
    assert fixed == "a = layers.BatchNormalization(momentum=0.9)"
