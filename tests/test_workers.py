"""A file that crashes, hangs or eats memory costs one KC000, never the run (issue 10, item 1).

`kerascheck.workers` on its own (crash, time limit, memory cap, replacement, stderr), then the
engine on the reproducers: libcst's segfaults and stalls, with `--jobs 1` and in parallel."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from kerascheck import engine, parse, registry, workers
from kerascheck.config import Settings
from kerascheck.discover import Target
from kerascheck.registry import Rule
from tests.conftest import invoke, run_cli

GOOD = "from keras import layers\nx = layers.BatchNormalization()(layers.Dropout(0.5)(x))\n"
TRIGGER = b"# Dropout BatchNormalization\n"  # so the prefilter passes the file to the parser

# ------------------------------------------------------------------ the pool alone


def _task(item):
    kind, value = item
    if kind == "ok":
        return value * 2
    if kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "exit":
        os._exit(value)
    if kind == "sleep":
        time.sleep(value)
        return "woke"
    if kind == "spin":
        while True:
            pass
    if kind == "memory":
        return len(bytearray(value * 1024 * 1024))
    if kind == "raise":
        raise KeyError(value)
    if kind == "recurse":
        def down(n):
            return down(n + 1)
        return down(0)
    if kind == "stderr":
        sys.stderr.write(value)
        sys.stderr.flush()
        return "said"
    raise AssertionError(kind)


def _pool(items, jobs=2, timeout=None, memory_mb=None, stderr=None):
    out = {}
    workers.run(items, _task, jobs=jobs, timeout=timeout, memory_mb=memory_mb,
                done=lambda i, outcome: out.__setitem__(i, outcome), stderr=stderr or io.StringIO())
    return [out[i] for i in range(len(items))]


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_failure_costs_its_item_only_and_dead_workers_are_replaced(jobs):
    items = [("ok", 1), ("segv", 0), ("ok", 2), ("exit", 3), ("ok", 3), ("raise", "boom"), ("recurse", 0),
             ("ok", 4)]
    got = _pool(items, jobs=jobs)
    assert got[0] == 2 and got[2] == 4 and got[4] == 6 and got[7] == 8
    assert got[1] == workers.Failed("signal", "SIGSEGV", signal.SIGSEGV)
    assert got[3] == workers.Failed("exit", "exit status 3")
    assert got[5] == workers.Failed("error", "KeyError: 'boom'")
    assert got[6] == workers.Failed("error", "too deeply nested to analyze")


def test_cpu_time_limit_ends_the_worker_and_the_run_goes_on(monkeypatch):
    """Over its CPU time (RLIMIT_CPU counts whole seconds: 1.5 is 2), the kernel ends the worker;
    the wall-clock backstop is out of the way here, so only that can end it."""
    monkeypatch.setattr(workers, "WALL_FACTOR", 10_000)
    got = _pool([("spin", 0), ("ok", 5), ("sleep", 0)], jobs=1, timeout=1.5)
    assert got == [workers.Failed("timeout", "1.5"), 10, "woke"]


def test_wall_clock_backstop_kills_a_worker_that_waits():
    started = time.monotonic()
    got = _pool([("sleep", 60), ("ok", 5)], jobs=1, timeout=0.2)
    assert got == [workers.Failed("timeout", "0.2"), 10]
    assert 2 <= time.monotonic() - started < 30  # ten times the limit


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA is enforced by Linux")
def test_memory_cap_is_a_memory_failure_and_the_worker_is_replaced():
    got = _pool([("memory", 2048), ("ok", 1), ("memory", 8)], jobs=1, memory_mb=256)
    assert got == [workers.Failed("memory", ""), 2, 8 * 1024 * 1024]


def test_stderr_of_a_worker_is_passed_on():
    stream = io.StringIO()
    assert _pool([("stderr", "a warning\n")], stderr=stream) == ["said"]
    assert stream.getvalue() == "a warning\n"


def test_no_worker_is_left_behind():
    before = _children()
    _pool([("ok", i) for i in range(6)] + [("segv", 0), ("sleep", 30), ("spin", 0)], jobs=3, timeout=0.5)
    assert _children() == before


def _children() -> set[int]:
    me = str(os.getpid())
    found = set()
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else ():
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            found.add(int(pid))
    return found


# ------------------------------------------------------------------ the engine


def _run(tmp_path: Path, files: dict[str, bytes], jobs: int = 1, rules=None, **settings):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    rules = rules or registry.load()
    plan = engine.Plan.make(Settings(root=tmp_path, **settings), rules, {r.code for r in rules} | {"KC000"})
    targets = [Target(tmp_path / name, name) for name in sorted(files)]
    result = engine.run(targets, plan, jobs=jobs)
    return {(f.path, f.code, f.message) for f in result.findings}


@pytest.fixture
def unguarded(monkeypatch):
    """No refusal before libcst: the worker is what stands between libcst and the run."""
    monkeypatch.setattr(parse, "LIMITS", {k: (10**9, what) for k, (_, what) in parse.LIMITS.items()})


@pytest.mark.parametrize("jobs", [1, 2])
def test_libcst_segfault_is_one_kc000(tmp_path, unguarded, jobs):
    """The issue's reproducer: libcst's native parser overflows its stack on 8,000 `and`s."""
    crash = TRIGGER + b"x = a" + b" and a" * 8000 + b"\n"
    found = _run(tmp_path, {"crash.py": crash, "good.py": GOOD.encode(), "other.py": GOOD.encode()}, jobs=jobs)
    assert ("crash.py", "KC000", "parser crashed (signal 11, SIGSEGV)") in found
    assert {p for p, code, _ in found if code == "KC001"} == {"good.py", "other.py"}


def test_libcst_stall_is_one_kc000_after_the_time_limit(tmp_path, unguarded):
    stall = TRIGGER + b"x = 1" + b" + 1" * 20000 + b"\n"  # over 120 s in libcst
    found = _run(tmp_path, {"stall.py": stall, "good.py": GOOD.encode()}, file_timeout=2)
    assert ("stall.py", "KC000", "timed out after 2 s of CPU time (limit: file-timeout)") in found
    assert any(p == "good.py" and code == "KC001" for p, code, _ in found)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA is enforced by Linux")
def test_libcst_out_of_memory_is_one_kc000(tmp_path, unguarded):
    """A 1 MB literal costs `ast` 312 MB (and libcst 1.6 GB): under a 200 MB cap `ast` fails, a
    MemoryError. 4,000 unary minus signs cost `ast` little and libcst about 1 GB: under a 300 MB
    cap libcst's allocation fails (in Rust: an abort with a message, which the pool reads)."""
    literal = TRIGGER + b"x = [" + b"1, " * 330_000 + b"]\n"
    minus = TRIGGER + b"x = " + b"-" * 4000 + b"1\n"
    for data, cap in ((literal, 200), (minus, 300)):
        found = _run(tmp_path, {"big.py": data, "good.py": GOOD.encode()}, file_memory=cap)
        assert ("big.py", "KC000", f"memory limit exceeded (limit: file-memory {cap} MB)") in found
    assert any(p == "good.py" and code == "KC001" for p, code, _ in found)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA is enforced by Linux")
def test_out_of_memory_is_named_when_the_forking_process_is_large(tmp_path, unguarded):
    """The cap is what a worker may allocate beyond what it inherited: a large parent (a long test
    run, an editor) must not turn `ast`'s MemoryError on a huge literal into "too deeply nested"."""
    ballast = bytearray(512 * 1024 * 1024)  # the forking process holds 512 MB more
    literal = TRIGGER + b"x = [" + b"1, " * 330_000 + b"]\n"
    found = _run(tmp_path, {"big.py": literal, "good.py": GOOD.encode()}, file_memory=200)
    del ballast
    assert ("big.py", "KC000", "memory limit exceeded (limit: file-memory 200 MB)") in found
    assert any(p == "good.py" and code == "KC001" for p, code, _ in found)


def _rule(check) -> Rule:
    return Rule("KC998", "test-rule", "never", needs=(b"Dropout",), anchors=("keras.layers.Dropout",), check=check)


def _spins(ctx):
    while True:
        pass
    yield


def _exits(ctx):
    os._exit(3)
    yield


def test_a_rule_that_hangs_or_kills_its_process_costs_its_file_only(tmp_path):
    for check, message in ((_spins, "timed out after 1 s of CPU time (limit: file-timeout)"),
                           (_exits, "the analysis process ended unexpectedly (exit status 3)")):
        found = _run(tmp_path, {"a.py": GOOD.encode(), "b.py": GOOD.encode()}, rules=(*registry.load(), _rule(check)),
                     file_timeout=1)
        assert found >= {("a.py", "KC000", message), ("b.py", "KC000", message)}
        assert {p for p, code, _ in found if code == "KC001"} == set()  # the whole file's result is lost


def test_failures_are_not_cached(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(GOOD)
    (tmp_path / "pyproject.toml").write_text("[tool.kerascheck]\nfile-timeout = 0.5\n")
    monkeypatch.setattr(engine, "_analyze_file", lambda item, full: _spins(None).send(None))
    env = {"KERASCHECK_DEBUG_STATS": "1"}
    for _ in range(2):  # the second run checks the file again: a time limit is not the file's fault
        result = invoke("check", ".", cwd=tmp_path, env=env)
        assert "timed out after 0.5 s of CPU time" in result.stdout
        assert "parsed=1 cached=0" in result.stderr


# ------------------------------------------------------------------ the reproducers, end to end


REPRODUCERS = {
    "and8000.py": TRIGGER + b"x = a" + b" and a" * 8000 + b"\n",  # segfault
    "plus8000.py": TRIGGER + b"x = 1" + b" + 1" * 8000 + b"\n",  # segfault
    "plus20000.py": TRIGGER + b"x = 1" + b" + 1" * 20000 + b"\n",  # over 120 s
    "call20000.py": TRIGGER + b"x = f" + b"()" * 20000 + b"\n",
    "sub20000.py": TRIGGER + b"x = a" + b"[0]" * 20000 + b"\n",
    "attr20000.py": TRIGGER + b"x = a" + b".b" * 20000 + b"\n",
    "list36mb.py": TRIGGER + b"x = [" + b"1, " * 1_200_000 + b"]\n",  # 93 s, 7.7 GB
}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_issue_reproducers_end_to_end(tmp_path, jobs):
    """Each is refused before libcst (tests/measurements/libcst_limits.py) and the good file's
    finding survives: exit 1, no traceback, with one worker or several."""
    for name, data in REPRODUCERS.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "good.py").write_text(GOOD)
    # A generous time limit: `ast` alone takes seconds on the 3.6 MB literal, more on a busy machine.
    proc = run_cli("check", "--no-cache", "--format", "json", "--jobs", jobs, "--file-timeout", "300", ".",
                   cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr
    found = {(f["path"], f["code"]): f["message"] for f in json.loads(proc.stdout)}
    assert ("good.py", "KC001") in found
    for name in REPRODUCERS:
        assert found[(name, "KC000")].startswith("too complex to parse safely"), name


def test_single_file_run_with_one_job_survives_a_crash(tmp_path, monkeypatch):
    """`kerascheck check crash.py` (one file, one job) used to die of SIGSEGV printing nothing."""
    (tmp_path / "crash.py").write_bytes(REPRODUCERS["and8000.py"])
    proc = run_cli("check", "--no-cache", "--jobs", "1", "crash.py", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr == ""
    assert "crash.py:2:5: KC000 too complex to parse safely" in proc.stdout


def test_confirm_parses_files_again_in_guarded_workers(tmp_path, monkeypatch):
    """Confirm mode parses each file with findings whole once more: a crash there costs that
    file's jobs, not the run."""
    from kerascheck.confirm import jobs
    from kerascheck.finding import Finding

    def crash(path, *args):
        if path.endswith("crash.py"):
            os.kill(os.getpid(), signal.SIGSEGV)
        yield {"slice": "", "path": path}

    monkeypatch.setattr(jobs, "_file_jobs", crash)
    found = [Finding("KC001", "dropout-before-batchnorm", "m", str(tmp_path / name), 1, 1, 1, 2, "warning")
             for name in ("crash.py", "good.py")]
    made = jobs.build_jobs(found, None)
    assert made[0] == {"_unavailable": "the file could not be analysed again: parser crashed (signal 11, SIGSEGV)"}
    assert made[1] == {"slice": "", "path": str(tmp_path / "good.py")}
