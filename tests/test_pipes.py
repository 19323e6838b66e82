"""A reader that closes stdout early (`kerascheck check | head -c 10`) is not an error.

Each run gets a pipe whose read end is closed before kerascheck writes a byte, so every write
to stdout fails with EPIPE, deterministically (with a real `head` it depends on timing and
buffer sizes). kerascheck must stay quiet on stderr and keep the exit code of the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BAD = ("import keras\nfrom keras import layers\n"
       "model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")


def run_with_closed_stdout(*args: str, cwd: Path, stderr_too: bool = False) -> tuple[int, str]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "kerascheck", *args], cwd=cwd, env=env, stdout=write_end,
                            stderr=write_end if stderr_too else subprocess.PIPE)
    os.close(write_end)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, (err or b"").decode(errors="replace")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pipes")
    (root / "bad.py").write_text(BAD)
    (root / "clean").mkdir()
    (root / "clean" / "good.py").write_text("x = 1\n")
    return root


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_check_with_findings_exits_1_quietly(project, fmt):
    code, stderr = run_with_closed_stdout("check", "--no-cache", "--output-format", fmt, ".", cwd=project)
    assert stderr == ""
    assert code == 1  # the findings still decide the exit code


@pytest.mark.parametrize("fmt", ["text", "sarif"])
def test_clean_check_exits_0_quietly(project, fmt):
    code, stderr = run_with_closed_stdout("check", "--no-cache", "--output-format", fmt, "clean", cwd=project)
    assert (code, stderr) == (0, "")


def test_statistics_exit_quietly(project):
    code, stderr = run_with_closed_stdout("check", "--no-cache", "--statistics", ".", cwd=project)
    assert (code, stderr) == (1, "")


@pytest.mark.parametrize("args", [("rule", "--all"), ("rule", "KC001")])
def test_rule_docs_exit_0_quietly(args):
    code, stderr = run_with_closed_stdout(*args, cwd=ROOT)
    assert (code, stderr) == (0, "")


def test_stderr_closed_as_well(project):
    """`kerascheck check 2>&1 | head -1`: the notes on stderr cannot be written either."""
    (project / "baseline.json").unlink(missing_ok=True)
    code, _ = run_with_closed_stdout("check", "--no-cache", "--write-baseline", "baseline.json", ".",
                                     cwd=project, stderr_too=True)
    assert code == 0
    assert (project / "baseline.json").is_file()  # the work was done; only the note was lost
    code, _ = run_with_closed_stdout("check", "--no-cache", "--baseline", "baseline.json", ".",
                                     cwd=project, stderr_too=True)
    assert code == 0
