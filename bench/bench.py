"""Benchmark: kerascheck vs ruff, on two real corpora in one run.

    python bench/bench.py [CORPUS ...] [--runs N]

By default the corpora are the installed `keras/src` (mostly files no rule needs) and
`tf_keras/src` (Keras code nearly everywhere, like a user's model repository). For each it
prints files, files parsed, statements handed to libcst, and the best-of-N wall time and CPU
time (user + system, all processes) of `kerascheck check --no-cache` and of
`ruff check --select ALL --no-cache`, with the ratios; then kerascheck's time with the cache
cold and warm, and on one small file. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMALL = """import keras
from keras import layers

model = keras.Sequential([
    layers.Dense(64, activation="relu"),
    layers.Dropout(0.5),
    layers.BatchNormalization(),
    layers.Dense(10),
])
"""


def installed(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # locates the package without importing it
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "src"


def measure(cmd: list[str], runs: int, env: dict | None = None, cwd=None) -> tuple[float, float, subprocess.CompletedProcess]:
    """Best-of-N (wall seconds, CPU seconds of the process and its children), last result."""
    best_wall = best_cpu = float("inf")
    last = None
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        last = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu, last


def cache_times(corpus: Path, runs: int) -> tuple[float, float]:
    """Best-of-N wall time with the result cache: cold (no cache yet) and warm (unchanged tree)."""
    cold = warm = float("inf")
    with tempfile.TemporaryDirectory() as tmp:  # the cache goes in the cwd (no config found)
        cmd = [sys.executable, "-m", "kerascheck", "check", str(corpus), "--exit-zero"]
        for _ in range(runs):
            shutil.rmtree(Path(tmp) / ".kerascheck_cache", ignore_errors=True)
            for kind in ("cold", "warm"):
                start = time.perf_counter()
                subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
                took = time.perf_counter() - start
                cold, warm = (min(cold, took), warm) if kind == "cold" else (cold, min(warm, took))
    return cold, warm


def corpus_figures(corpus: Path, runs: int, ruff: str | None) -> None:
    env = {**os.environ, "KERASCHECK_DEBUG_STATS": "1"}
    kc_cmd = [sys.executable, "-m", "kerascheck", "check", str(corpus), "--no-cache", "--exit-zero"]
    kc_wall, kc_cpu, kc = measure(kc_cmd, runs, env=env)
    stats = dict(re.findall(r"(\w+)=(\d+)", kc.stderr.split("debug:", 1)[-1]))
    print(f"corpus              {corpus}")
    print(f"files               {stats.get('files', '?')}")
    print(f"files parsed        {stats.get('parsed', '?')}")
    print(f"statements parsed   {stats.get('statements', '?')} (top-level statements and class members given to libcst)")
    print(f"kerascheck          wall {kc_wall:.2f} s, CPU {kc_cpu:.2f} s (best of {runs}, --no-cache)")
    if ruff:
        ruff_cmd = [ruff, "check", "--select", "ALL", "--no-cache", "--exit-zero", "-q", str(corpus)]
        ruff_wall, ruff_cpu, _ = measure(ruff_cmd, runs)
        print(f"ruff                wall {ruff_wall:.2f} s, CPU {ruff_cpu:.2f} s (ruff check --select ALL --no-cache)")
        print(f"ratio               wall {kc_wall / ruff_wall:.2f}x ruff, CPU {kc_cpu / ruff_cpu:.2f}x ruff")
    cold, warm = cache_times(corpus, runs)
    print(f"with cache          cold {cold:.2f} s, warm {warm:.2f} s (wall; warm = unchanged tree, nothing parsed)")
    print()


def small_file(runs: int) -> None:
    """One small file as the pre-commit hook checks it (`kerascheck check --force-exclude FILE`),
    cold (no cache): Python's start-up, the imports, one worker process. Target: under 0.3 s.
    Wall and CPU (user + system of kerascheck and its worker): on a busy machine CPU is the
    figure to compare."""
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "model.py"
        small.write_text(SMALL)
        cmd = [sys.executable, "-m", "kerascheck", "check", "--force-exclude", "--no-cache", str(small)]
        small_time, small_cpu, _ = measure(cmd, runs)
        # An installed kerascheck has its bytecode compiled (pip does it); a checkout run with
        # PYTHONDONTWRITEBYTECODE set recompiles every module on every start. Measure both.
        compiled = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run(cmd, capture_output=True, env=compiled)  # writes the .pyc files once
        compiled_time, compiled_cpu, _ = measure(cmd, runs, env=compiled)
        start_time, _, _ = measure([sys.executable, "-c", "pass"], runs)
        libcst_time, libcst_cpu, _ = measure([sys.executable, "-c", "import libcst"], runs)
    print(f"one small file      {compiled_time:.2f} s wall, {compiled_cpu:.2f} s CPU with compiled bytecode; "
          f"{small_time:.2f} s wall, {small_cpu:.2f} s CPU in this environment (pre-commit's "
          f"`check --force-exclude FILE`, no cache; target under 0.3 s; python start-up alone: "
          f"{start_time:.2f} s; import libcst alone: {libcst_time:.2f} s wall, {libcst_cpu:.2f} s CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    corpora = args.corpus or [c for c in (installed("keras"), installed("tf_keras")) if c is not None]
    if not corpora or not all(c.is_dir() for c in corpora):
        sys.exit("no corpus: pip install keras tf-keras, or pass directories")
    ruff = shutil.which("ruff")
    if not ruff:
        print("ruff                not installed (pip install ruff) - no ratios\n")
    for corpus in corpora:
        corpus_figures(corpus, args.runs, ruff)
    small_file(args.runs)


if __name__ == "__main__":
    main()
