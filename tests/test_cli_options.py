"""ruff's command-line names and habits: --quiet, --silent, --extend-select, --color, --show-files,
-V/--version, --stdin-filename, the summary line, and every flag in --help and in the README table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kerascheck import __version__
from tests.conftest import ROOT, invoke, run_cli, run_on_terminal

BAD = ("import keras\nfrom keras import layers\n"
       "model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")
GOOD = "import keras\nfrom keras import layers\nmodel = keras.Sequential([layers.Dense(1)])\n"
KC002 = ("import tensorflow as tf\nfrom tensorflow import keras\n\n"
         "class Noisy(keras.layers.Layer):\n    def call(self, x):\n        return tf.nn.dropout(x, rate=0.5)\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "bad.py").write_text(BAD)
    (tmp_path / "models" / "good.py").write_text(GOOD)
    (tmp_path / "models" / "noisy.py").write_text(KC002)
    return tmp_path


def codes(result) -> list[str]:
    assert result.returncode in (0, 1), result.stderr
    return [f["code"] for f in json.loads(result.stdout)]


# ------------------------------------------------------------------ the summary line


def test_summary_line_counts_agree_in_number(project):
    clean = invoke("check", "--no-cache", "models/good.py", cwd=project)
    assert clean.returncode == 0
    assert re.fullmatch(r"All checks passed! \(1 file checked, 1 skipped by prefilter\) in \d+\.\d\d s\n",
                        clean.stdout), clean.stdout
    one = invoke("check", "--no-cache", "models/bad.py", cwd=project)
    assert "\nFound 1 finding in 1 file (1 file checked, 0 skipped by prefilter) in " in one.stdout
    two = invoke("check", "--no-cache", ".", cwd=project)
    assert "\nFound 2 findings in 2 files (3 files checked, 1 skipped by prefilter) in " in two.stdout
    (project / "models" / "bad2.py").write_text(BAD)
    three = invoke("check", "--no-cache", "models/bad.py", "models/bad2.py", cwd=project)
    assert "\nFound 2 findings in 2 files (2 files checked, " in three.stdout
    assert "All checks passed!" not in one.stdout + two.stdout + three.stdout


# ------------------------------------------------------------------ --quiet, --silent


def test_quiet_prints_findings_only(project):
    loud = invoke("check", ".", cwd=project)
    quiet = invoke("check", ".", "--quiet", cwd=project)
    assert quiet.returncode == loud.returncode == 1
    assert "models/bad.py:3:48: KC001" in quiet.stdout
    assert loud.stdout.startswith(quiet.stdout) and "Found 2 findings" in loud.stdout
    assert "Found" not in quiet.stdout and "checked" not in quiet.stdout
    clean = invoke("check", "models/good.py", "-q", cwd=project)
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "", "")
    # Notes on stderr are not findings: the baseline's count goes too.
    invoke("check", ".", "--write-baseline", "base.json", cwd=project)
    (project / "models" / "bad2.py").write_text(BAD)
    noted = invoke("check", ".", "--baseline", "base.json", cwd=project)
    assert "known findings hidden" in noted.stderr
    hushed = invoke("check", ".", "--baseline", "base.json", "-q", cwd=project)
    assert hushed.returncode == 1 and hushed.stderr == ""
    assert hushed.stdout.startswith("models/bad2.py:3:48: KC001") and "Found" not in hushed.stdout
    stats = invoke("check", ".", "-q", "--statistics", cwd=project)
    assert stats.stdout.split() == ["2", "KC001", "dropout-before-batchnorm", "1", "KC002", "dropout-ignores-training"]


@pytest.mark.parametrize("flag", ["--silent", "-s"])
def test_silent_prints_nothing_and_exits_with_the_result(project, flag):
    for path, code in (("models/bad.py", 1), ("models/good.py", 0)):
        for fmt in ("text", "json", "sarif", "github"):
            result = invoke("check", path, flag, "--output-format", fmt, cwd=project)
            assert (result.returncode, result.stdout, result.stderr) == (code, "", ""), (path, fmt)
    invoke("check", ".", "--write-baseline", "base.json", cwd=project)
    noted = invoke("check", ".", "--baseline", "base.json", flag, cwd=project)
    assert (noted.returncode, noted.stdout, noted.stderr) == (0, "", "")
    # A usage error is still said: the exit code alone would not tell what to fix.
    broken = invoke("check", "nope.py", flag, cwd=project)
    assert broken.returncode == 2 and "path does not exist: nope.py" in broken.stderr
    # A report asked for by name is still written.
    written = invoke("check", ".", flag, "--output-format", "json", "-o", "out/report.json", cwd=project)
    assert written.returncode == 1 and written.stdout == ""
    assert [f["code"] for f in json.loads((project / "out" / "report.json").read_text())] == ["KC001", "KC002"]


# ------------------------------------------------------------------ --extend-select


def test_extend_select_adds_to_the_selection(project):
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nselect = ["KC002"]\n')
    assert codes(invoke("check", "--output-format", "json", cwd=project)) == ["KC002"]
    assert codes(invoke("check", "--output-format", "json", "--extend-select", "KC001", cwd=project)) == ["KC001", "KC002"]
    # on top of --select too, comma-separated like --select
    assert codes(invoke("check", "--output-format", "json", "--select", "KC003", "--extend-select", "KC001",
                        cwd=project)) == ["KC001"]
    assert codes(invoke("check", "--output-format", "json", "--select", "KC003", "--extend-select", "KC001,KC002",
                        cwd=project)) == ["KC001", "KC002"]
    # ignore still wins
    assert codes(invoke("check", "--output-format", "json", "--extend-select", "KC001", "--ignore", "KC001",
                        cwd=project)) == ["KC002"]
    unknown = invoke("check", "--extend-select", "KC999", cwd=project)
    assert unknown.returncode == 2 and "unknown rule code: KC999 (in --extend-select)" in unknown.stderr


def test_extend_select_turns_on_unused_noqa(project):
    """The ruff habit: `--select` narrows, `--extend-select RUF100`-style adds one more code."""
    (project / "models" / "stale.py").write_text("x = 1  # noqa: KC001\n")
    base = ("check", "models/stale.py", "--report-unused-noqa", "--output-format", "json", "--select", "KC001")
    assert codes(invoke(*base, cwd=project)) == []
    assert codes(invoke(*base, "--extend-select", "KC100", cwd=project)) == ["KC100"]


# ------------------------------------------------------------------ --color and NO_COLOR


def on_terminal(*args: str, cwd: Path, env: dict[str, str]) -> str:
    """kerascheck's stdout when stdout is a terminal (a pseudo-terminal)."""
    pytest.importorskip("pty")
    full = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    full.update(TERM="xterm", **env)
    return run_on_terminal(*args, cwd=cwd, env=full, terminal="stdout")[1]


def test_no_color_means_no_ansi_code_at_all_on_a_terminal(project):
    styled = on_terminal("check", "--no-cache", ".", cwd=project, env={})
    assert "\x1b[1m" in styled  # the control: on a terminal the path is bold
    plain = on_terminal("check", "--no-cache", ".", cwd=project, env={"NO_COLOR": "1"})
    assert "models/bad.py:3:48: KC001" in plain and "Found 2 findings" in plain
    assert "\x1b" not in plain, repr(plain[:200])
    clean = on_terminal("check", "--no-cache", "models/good.py", cwd=project, env={"NO_COLOR": "1"})
    assert "All checks passed!" in clean and "\x1b" not in clean  # the summary was dim
    never = on_terminal("check", "--no-cache", "--color", "never", ".", cwd=project, env={})
    assert "KC001" in never and "\x1b" not in never


def test_color_always_styles_a_pipe_even_with_no_color(project):
    piped = invoke("check", ".", cwd=project)  # not a terminal
    assert "\x1b" not in piped.stdout
    forced = invoke("check", ".", "--color", "always", cwd=project, env={"NO_COLOR": "1"})
    assert forced.returncode == 1
    assert "\x1b[1mmodels/bad.py\x1b[0m" in forced.stdout
    assert re.sub(r"\x1b\[[0-9;]*m", "", forced.stdout).splitlines()[:4] == piped.stdout.splitlines()[:4]
    bad = invoke("check", ".", "--color", "sometimes", cwd=project)
    assert bad.returncode == 2 and "'sometimes' is not one of 'auto', 'always', 'never'" in bad.stderr


# ------------------------------------------------------------------ --show-files, --version


def test_show_files_lists_what_would_be_checked(project):
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nextend-exclude = ["models/noisy.py"]\n')
    (project / "notes.txt").write_text("not python\n")
    (project / "build").mkdir()
    (project / "build" / "gen.py").write_text(BAD)
    result = invoke("check", "--show-files", cwd=project)
    assert result.returncode == 0  # even though bad.py has a finding: nothing was checked
    assert result.stdout.splitlines() == ["models/bad.py", "models/good.py"]
    listed = invoke("check", "--show-files", "models/noisy.py", "models/bad.py", cwd=project)
    assert listed.stdout.splitlines() == ["models/bad.py", "models/noisy.py"]  # named files are checked
    forced = invoke("check", "--show-files", "--force-exclude", "models/noisy.py", cwd=project)
    assert forced.returncode == 0 and forced.stdout == ""


@pytest.mark.parametrize("args", [("-V",), ("--version",), ("check", "-V"), ("check", "--version")])
def test_version(args):
    result = invoke(*args)
    assert result.returncode == 0
    assert result.stdout == f"kerascheck, version {__version__}\n"


# ------------------------------------------------------------------ --stdin-filename


def test_stdin_is_reported_under_its_filename(project):
    result = invoke("check", "--stdin-filename", "models/edited.py", "-", cwd=project, input=BAD)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("models/edited.py:3:48: KC001 Dropout (line 3) feeds BatchNormalization")
    assert "Found 1 finding in 1 file (1 file checked" in result.stdout
    data = json.loads(invoke("check", "--stdin-filename", "models/edited.py", "--output-format", "json",
                             cwd=project, input=BAD).stdout)  # no path: stdin too, as ruff
    assert [(f["path"], f["line"], f["code"]) for f in data] == [("models/edited.py", 3, "KC001")]
    clean = invoke("check", "--stdin-filename", "models/bad.py", "-", cwd=project, input=GOOD)
    assert clean.returncode == 0 and "All checks passed!" in clean.stdout  # the buffer, not the file on disk
    bare = invoke("check", "-", cwd=project, input=BAD)
    assert bare.returncode == 1 and bare.stdout.startswith("-:3:48: KC001")


def test_stdin_gets_the_config_of_its_filename(project, tmp_path_factory):
    """The config is found from NAME's folder, its per-file ignores and excludes apply to NAME."""
    sub = project / "pkg"
    (sub / "tests").mkdir(parents=True)
    (sub / "pyproject.toml").write_text('[tool.kerascheck]\nper-file-ignores = { "tests/*" = ["KC001"] }\n'
                                        'extend-exclude = ["generated/"]\n')
    elsewhere = tmp_path_factory.mktemp("cwd")
    for cwd, name in ((project, "pkg/tests/t.py"), (sub, "tests/t.py"), (elsewhere, str(sub / "tests" / "t.py"))):
        result = invoke("check", "--stdin-filename", name, "-", cwd=cwd, input=BAD)
        assert result.returncode == 0, (cwd, name, result.stdout)
        assert invoke("check", "--stdin-filename", name.replace("tests", "src"), "-", cwd=cwd,
                      input=BAD).returncode == 1
    # --force-exclude: an excluded NAME is not checked (as ruff); without it, it is
    assert invoke("check", "--stdin-filename", "pkg/generated/m.py", "-", cwd=project, input=BAD).returncode == 1
    excluded = invoke("check", "--stdin-filename", "pkg/generated/m.py", "--force-exclude", "-", cwd=project,
                      input=BAD)
    assert excluded.returncode == 0 and "(0 files checked" in excluded.stdout
    # a --select on the command line still wins
    assert invoke("check", "--stdin-filename", "pkg/m.py", "--select", "KC002", "-", cwd=project,
                  input=BAD).returncode == 0


def test_stdin_notebooks_bad_bytes_and_baseline(project):
    cell = {"cell_type": "code", "source": BAD, "metadata": {}, "outputs": [], "execution_count": None}
    nb = json.dumps({"cells": [{"cell_type": "markdown", "source": "# m", "metadata": {}}, cell],
                     "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    result = invoke("check", "--stdin-filename", "nb.ipynb", "-", cwd=project, input=nb)
    assert result.stdout.startswith("nb.ipynb:cell 2:3:48: KC001")
    # Bytes that are not UTF-8 are KC000, as for a file
    raw = subprocess.run([sys.executable, "-m", "kerascheck", "check", "--stdin-filename", "x.py",
                          "--output-format", "json", "-"], cwd=project, input=b"import keras\nx = '\xff'\n",
                         capture_output=True, timeout=120)
    assert raw.returncode == 1, raw.stderr
    [finding] = json.loads(raw.stdout)
    assert (finding["code"], finding["path"]) == ("KC000", "x.py")
    # a baseline hides the buffer's known finding
    invoke("check", "models/bad.py", "--write-baseline", "base.json", cwd=project)
    known = invoke("check", "--stdin-filename", "models/bad.py", "--baseline", "base.json", "-", cwd=project,
                   input=BAD)
    assert known.returncode == 0 and "1 known finding hidden" in known.stderr


@pytest.mark.parametrize(("args", "says"), [
    (("--stdin-filename", "x.py", "models/bad.py"), "--stdin-filename names standard input"),
    (("-", "models/bad.py"), "cannot be checked together with other paths"),
    (("-", "--show-files"), "--show-files cannot be used with standard input"),
    (("-", "--write-baseline", "b.json"), "--write-baseline cannot be used with standard input"),
    (("-", "--confirm"), "--confirm cannot be used with standard input"),
])
def test_stdin_conflicts_are_usage_errors(project, args, says):
    result = invoke("check", *args, cwd=project, input=BAD)
    assert result.returncode == 2 and result.stdout == ""
    assert says in result.stderr and len(result.stderr.splitlines()) == 1


def test_stdin_end_to_end_in_a_process(project):
    result = run_cli("check", "--stdin-filename", "models/edited.py", "-", cwd=project, input=BAD)
    assert result.returncode == 1 and result.stdout.startswith("models/edited.py:3:48: KC001")


# ------------------------------------------------------------------ --statistics with SARIF


def test_statistics_with_sarif_is_a_usage_error(project):
    result = invoke("check", ".", "--statistics", "--output-format", "sarif", cwd=project)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("kerascheck: error: --statistics does not apply to --output-format sarif")
    for fmt in ("text", "json", "github"):
        assert invoke("check", ".", "--statistics", "--output-format", fmt, cwd=project).returncode == 1


# ------------------------------------------------------------------ every flag documented


PENDING = {"--show-settings"}  # in the README table; the option lands with the Keras-target issue


def readme_option_table() -> set[str]:
    """The flags named in the first column of the README's `| option | meaning |` table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("| option | meaning |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(line.split(" | ")[0])
    return {flag for row in rows for flag in re.findall(r"`(-{1,2}[A-Za-z][\w-]*)", row)}


def test_every_check_option_is_in_help_and_in_the_readme_table():
    import click

    from kerascheck.cli import check

    params = check.get_params(click.Context(check))  # with the help option
    shown = {opt for p in params if isinstance(p, click.Option) and not p.hidden
             for opt in (*p.opts, *p.secondary_opts) if opt not in getattr(p, "hidden_names", ())}
    assert {"--output-format", "-q", "--quiet", "-s", "--silent", "--extend-select", "--color", "--show-files",
            "-V", "--version", "--stdin-filename"} <= shown  # the walk sees the options
    table = readme_option_table()
    assert shown - table == set(), "options missing from the README table"
    assert table - shown - PENDING == set(), "README table rows for options that do not exist"
    assert "--format" not in table  # the hidden alias is not advertised
    help_text = invoke("check", "--help").stdout
    missing = {opt for opt in shown if not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", help_text)}
    assert missing == set()
