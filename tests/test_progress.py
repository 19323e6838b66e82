"""The progress bar: on a terminal's stderr, for text output only.

The tests give stderr a pseudo-terminal and set the hidden
`KERASCHECK_PROGRESS_DELAY=0` (normally the bar waits a second).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_cli, run_on_terminal

pty = pytest.importorskip("pty")

BAD = ("import keras\nfrom keras import layers\n"
       "model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")


def run_with_tty_stderr(*args: str, cwd: Path, delay: str = "0") -> tuple[int, str, str]:
    env = {**os.environ, "KERASCHECK_PROGRESS_DELAY": delay, "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    return run_on_terminal(*args, cwd=cwd, env=env, terminal="stderr")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for i in range(6):
        (tmp_path / f"m{i}.py").write_text(BAD if i % 2 else "x = 1\n")
    return tmp_path


def test_bar_on_a_terminal(project):
    code, stdout, stderr = run_with_tty_stderr("check", "--no-cache", ".", cwd=project)
    assert code == 1
    assert "/6" in stderr and "files" in stderr and "checking" in stderr
    assert "checking" not in stdout  # the report stays clean
    assert stdout.count("KC001") == 3


@pytest.mark.parametrize("fmt", ["json", "sarif", "github"])
def test_no_bar_for_machine_formats(project, fmt):
    code, stdout, stderr = run_with_tty_stderr("check", "--no-cache", "--output-format", fmt, ".", cwd=project)
    assert code == 1, stderr
    assert "checking" not in stderr


def test_no_bar_for_short_runs(project):
    code, _, stderr = run_with_tty_stderr("check", "--no-cache", ".", cwd=project, delay="30")
    assert code == 1 and "checking" not in stderr


def test_no_bar_when_stderr_is_not_a_terminal(project):
    result = run_cli("check", "--no-cache", ".", cwd=project, env={"KERASCHECK_PROGRESS_DELAY": "0"})
    assert result.returncode == 1 and result.stderr == ""
