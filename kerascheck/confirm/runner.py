"""The parent side of confirm mode: one child process per Keras version, a watchdog, a temporary directory.

A child (`python -m kerascheck.confirm.child`) is started only when there are jobs for its Keras
version ("3": TF_USE_LEGACY_KERAS=0; "2": TF_USE_LEGACY_KERAS=1, where `tf.keras` is tf_keras; the
variable is pinned either way, so the user's shell cannot switch it), imports TensorFlow once and
answers that version's jobs one at a time: at most two TensorFlow start-ups per run. If a child
stops answering (a hang its own alarm cannot interrupt) the watchdog kills it after the time
limit plus a grace period, marks that finding `could not build`, and starts a new child for the
rest; so does a crash (`os._exit` from native code, a signal). The children's working directory,
HOME-like paths and TMPDIR point into one temporary directory that is removed afterwards.
"""

from __future__ import annotations

import dataclasses
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kerascheck.confirm import COULD_NOT_BUILD, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, INSTALL_HINT, Verdict

GRACE = 10.0  # seconds past the per-finding limit before the watchdog kills the child
STARTUP_LIMIT = 180.0  # importing TensorFlow


class ConfirmUnavailable(Exception):
    """TensorFlow cannot be imported: exit 2 with a one-line error."""


def require_tensorflow() -> None:
    """Fail early, without importing TensorFlow, when it is not installed."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("tensorflow")
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise ConfirmUnavailable(f"--confirm needs TensorFlow, which is not installed: {INSTALL_HINT}")


@dataclass
class Stats:
    jobs: int = 0
    startups: int = 0  # TensorFlow start-ups (1 per Keras version, plus one per restart after a hang or crash)
    startup_seconds: float = 0.0
    seconds: float = 0.0
    verdicts: dict[str, int] = field(default_factory=dict)
    versions: dict[str, list] = field(default_factory=dict)  # Keras version -> [start-ups, seconds, library version]
    cpu: dict[int, float] = field(default_factory=dict)  # finding index -> CPU seconds of its job in the child


class _Child:
    def __init__(self, workdir: str, timeout: float, memory_mb: int, log, version: str = "3") -> None:
        env = dict(os.environ)
        roots = {str(Path(m.__file__).resolve().parent.parent) for m in _packages()}
        env.update({
            "PYTHONPATH": os.pathsep.join([*sorted(roots), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "PYTHONDONTWRITEBYTECODE": "1",
            "TF_CPP_MIN_LOG_LEVEL": env.get("TF_CPP_MIN_LOG_LEVEL", "3"),
            "KERAS_BACKEND": "tensorflow",
            "KERAS_HOME": os.path.join(workdir, ".keras"),  # Keras writes keras.json on import
            "TMPDIR": workdir, "TEMP": workdir, "TMP": workdir,
            "MPLCONFIGDIR": os.path.join(workdir, ".matplotlib"),
            "HOME": workdir,
            "CUDA_VISIBLE_DEVICES": "-1",  # tiny models: the CPU is enough, and deterministic
            "TF_USE_LEGACY_KERAS": "1" if version == "2" else "0",  # pinned: the shell's value never leaks in
        })
        self.version = version
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kerascheck.confirm.child", "--timeout", str(timeout),
             "--memory-mb", str(memory_mb), "--keras", version],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=workdir, env=env,
            start_new_session=True)
        self.buffer = b""
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)

    def send(self, obj: dict[str, Any]) -> None:
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        self.proc.stdin.flush()

    def receive(self, limit: float) -> dict[str, Any] | None:
        """The next line, or None on a timeout or EOF (check `alive`)."""
        deadline = time.monotonic() + limit
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self.selector.select(left):
                return None
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.selector.close()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass

    def died(self) -> str:
        code = self.proc.wait()
        if code < 0:
            return f"the process was killed by signal {signal.Signals(-code).name}"
        return f"the process exited with code {code}"


def _packages():
    import kerascheck

    return (kerascheck,)


def confirm_findings(findings: list, jobs: list, timeout: float = DEFAULT_TIMEOUT,
                     memory_mb: int = DEFAULT_MEMORY_MB, progress: bool = False) -> tuple[list, Stats]:
    """Each finding with its `confirm` verdict filled in (same order), and the run's figures.
    `jobs[i]` is finding i's job (jobs.build_jobs), or {"_unavailable": reason}."""
    started = time.perf_counter()
    stats = Stats()
    verdicts: list[Verdict | None] = [None] * len(findings)
    pending: list[int] = []
    for i, (f, job) in enumerate(zip(findings, jobs)):
        if isinstance(job, dict) and "_unavailable" not in job:
            pending.append(i)
        else:
            reason = job.get("_unavailable") if isinstance(job, dict) else None
            verdicts[i] = Verdict(COULD_NOT_BUILD, reason or f"{f.code} has no confirm recipe")
    stats.jobs = len(pending)
    if pending:
        _run_jobs(findings, jobs, pending, verdicts, timeout, memory_mb, progress, stats)
    out = []
    for f, v in zip(findings, verdicts):
        stats.verdicts[v.verdict] = stats.verdicts.get(v.verdict, 0) + 1
        out.append(dataclasses.replace(f, confirm=v.to_json()))
    stats.seconds = time.perf_counter() - started
    return out, stats


def run_jobs(jobs: list[dict[str, Any]], timeout: float = DEFAULT_TIMEOUT,
             memory_mb: int = DEFAULT_MEMORY_MB) -> tuple[list[Verdict], Stats]:
    """Run raw jobs (each with "rule" and "path") in one child; for tests and tools."""

    @dataclass
    class _F:
        code: str

    findings = [_F(j["rule"]) for j in jobs]
    stats = Stats()
    verdicts: list[Verdict | None] = [None] * len(jobs)
    started = time.perf_counter()
    _run_jobs(findings, jobs, list(range(len(jobs))), verdicts, timeout, memory_mb, False, stats)
    stats.seconds = time.perf_counter() - started
    return verdicts, stats


def _version(job: dict[str, Any]) -> str:
    return "2" if str(job.get("keras", "3")) == "2" else "3"


def _tf_keras_missing() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("tf_keras") is None
    except (ImportError, ValueError):
        return True


def _run_jobs(findings, jobs: list, pending: list[int], verdicts: list, timeout: float, memory_mb: int,
              progress: bool, stats: Stats) -> None:
    """Run the pending jobs, Keras 3 ones first, each version in its own child."""
    groups: dict[str, list[int]] = {}
    for i in pending:
        groups.setdefault(_version(jobs[i]), []).append(i)
    if "2" in groups and _tf_keras_missing():
        for i in groups.pop("2"):
            verdicts[i] = Verdict(COULD_NOT_BUILD, "missing dependency: No module named 'tf_keras' (the code is "
                                  "Keras 2 code, confirmed with tf_keras: pip install tf-keras)")
    workdir = tempfile.mkdtemp(prefix="kerascheck-confirm-")
    total = sum(len(g) for g in groups.values())
    bar = _progress(total) if progress and total > 1 else None
    log = open(os.path.join(workdir, "child.log"), "wb")  # noqa: SIM115 - closed below
    try:
        for version in sorted(groups, reverse=True):
            _run_version(version, findings, jobs, groups[version], verdicts, timeout, memory_mb, stats,
                         workdir, log, bar)
    finally:
        if bar is not None:
            bar[0].stop()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _run_version(version: str, findings, jobs: list, queue: list[int], verdicts: list, timeout: float,
                 memory_mb: int, stats: Stats, workdir: str, log, bar) -> None:
    child: _Child | None = None
    queue = list(queue)
    try:
        while queue:
            if child is None:
                child = _start(workdir, timeout, memory_mb, log, stats, version)
            i = queue.pop(0)
            f = findings[i]
            job = {**jobs[i], "rule": f.code, "path": getattr(f, "path", jobs[i].get("path", "<slice>"))}
            began = time.perf_counter()
            child.send(job)
            answer = child.receive(timeout + GRACE)
            if answer is None:
                if child.proc.poll() is None:
                    reason = f"time limit: no verdict after {timeout:g} s (--confirm-timeout); the process was stopped"
                else:
                    reason = _death(child, workdir, memory_mb)
                child.kill()
                child = None
                verdicts[i] = Verdict(COULD_NOT_BUILD, reason, time.perf_counter() - began)
            else:
                verdicts[i] = Verdict(answer["verdict"], answer["evidence"], time.perf_counter() - began)
                stats.cpu[i] = float(answer.get("cpu", 0.0))
            if bar is not None:
                bar[0].advance(bar[1])
    finally:
        if child is not None:
            try:
                child.proc.stdin.close()
                child.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
            child.kill()


def _death(child: _Child, workdir: str, memory_mb: int) -> str:
    """Why the child died mid-job; an allocation that failed in native code is the memory limit."""
    how = child.died()
    last = _last_log_line(workdir)
    if any(word in last for word in ("bad_alloc", "ResourceExhausted", "OOM", "Cannot allocate memory",
                                     "MemoryError")):
        return f"memory limit: the code needs more than the memory cap ({memory_mb} MB, --confirm-memory); {how}{last}"
    return f"{how}{last}"


def _start(workdir: str, timeout: float, memory_mb: int, log, stats: Stats, version: str = "3") -> _Child:
    began = time.perf_counter()
    child = _Child(workdir, timeout, memory_mb, log, version)
    hello = child.receive(STARTUP_LIMIT)
    seconds = time.perf_counter() - began
    stats.startups += 1
    stats.startup_seconds += seconds
    if hello is None or "error" in hello:
        detail = hello["error"] if hello else f"{child.died() if child.proc.poll() is not None else 'no answer'}"
        child.kill()
        raise ConfirmUnavailable(f"--confirm could not import TensorFlow ({detail}): {INSTALL_HINT}")
    entry = stats.versions.setdefault(version, [0, 0.0, hello.get("keras", "?")])
    entry[0] += 1
    entry[1] += seconds
    return child


def _last_log_line(workdir: str) -> str:
    try:
        lines = Path(workdir, "child.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    lines = [ln for ln in lines if ln.strip() and not ln.startswith(("I0000", "W0000", "WARNING: All log"))]
    return f": {lines[-1].strip()[:200]}" if lines else ""


def _progress(total: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    bar = Progress(TextColumn("confirming"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True)
    task = bar.add_task("confirm", total=total)
    bar.start()
    return bar, task
