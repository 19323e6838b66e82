from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """Run kerascheck as a user would: a separate process. For what needs one: exit codes end to
    end, closed pipes, imports at start-up, a terminal, worker processes."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "kerascheck", *args], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, timeout=300, input=input)


def run_on_terminal(*args: str, cwd: Path, env: dict, terminal: str = "stderr") -> tuple[int, str, str]:
    """Run kerascheck (a process) with `terminal` ("stdout" or "stderr") on a pseudo-terminal and
    the other stream in a file; `env` is its whole environment. Returns (code, stdout, stderr)."""
    import pty
    import select
    import tempfile

    master, slave = pty.openpty()
    # The other stream goes to a file: a pipe nobody reads while we wait would fill up (SARIF is large).
    other = tempfile.TemporaryFile()
    streams = {"stdout": slave, "stderr": other} if terminal == "stdout" else {"stdout": other, "stderr": slave}
    proc = subprocess.Popen([sys.executable, "-m", "kerascheck", *args], cwd=cwd, env=env, **streams)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=300)
    other.seek(0)
    written = other.read().decode()
    other.close()
    os.close(master)
    shown = b"".join(chunks).decode(errors="replace")
    return (proc.returncode, shown, written) if terminal == "stdout" else (proc.returncode, written, shown)


@dataclass(frozen=True)
class Ran:
    """What `invoke` returns: the fields of a CompletedProcess that the tests read."""

    returncode: int
    stdout: str
    stderr: str


def invoke(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None) -> Ran:
    """Run kerascheck's command line in this process (click's CliRunner), from `cwd`.

    The same arguments, exit code, stdout and stderr as `run_cli`, without a Python start-up
    per call. One worker: a pool would fork the test process."""
    from click.testing import CliRunner

    from kerascheck.cli import main

    before = os.getcwd()
    os.chdir(cwd or ROOT)
    try:
        with mock.patch("os.cpu_count", return_value=1):
            result = CliRunner().invoke(main, list(args), env={"NO_COLOR": "1", **(env or {})}, input=input,
                                        catch_exceptions=False)
    finally:
        os.chdir(before)
    return Ran(result.exit_code, result.stdout, result.stderr)
