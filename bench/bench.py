"""Benchmark: kerascheck vs ruff on a real corpus (the installed keras/src).

    python bench/bench.py [CORPUS] [--runs N]

Prints files, files parsed, best-of-N wall time for each tool and the ratio,
plus kerascheck's wall time on one small file. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
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


def default_corpus() -> Path | None:
    spec = importlib.util.find_spec("keras")  # locates the package without importing it
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "src"


def best_of(cmd: list[str], runs: int, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    best, last = float("inf"), None
    for _ in range(runs):
        start = time.perf_counter()
        last = subprocess.run(cmd, capture_output=True, text=True, env=env)
        best = min(best, time.perf_counter() - start)
    return best, last


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    corpus = args.corpus or default_corpus()
    if corpus is None or not corpus.is_dir():
        sys.exit("no corpus: pip install keras, or pass a directory")

    kc_cmd = [sys.executable, "-m", "kerascheck", "check", str(corpus), "--no-cache", "--exit-zero"]
    kc_time, kc = best_of(kc_cmd, args.runs)
    match = re.search(r"\((\d+) files checked, (\d+) skipped by prefilter\)", kc.stdout)
    files, skipped = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    print(f"corpus              {corpus}")
    print(f"files               {files}")
    print(f"files parsed        {files - skipped}")
    print(f"kerascheck wall     {kc_time:.2f} s (best of {args.runs}, --no-cache)")
    cold, warm = cache_times(corpus, args.runs)
    print(f"with cache, cold    {cold:.2f} s (empty .kerascheck_cache)")
    print(f"with cache, warm    {warm:.2f} s (unchanged tree: nothing parsed)")

    ruff = shutil.which("ruff")
    if ruff:
        ruff_time, _ = best_of([ruff, "check", "--select", "ALL", "--no-cache", "--exit-zero", "-q", str(corpus)], args.runs)
        print(f"ruff wall           {ruff_time:.2f} s (ruff check --select ALL --no-cache)")
        print(f"ratio               {kc_time / ruff_time:.2f}x ruff")
    else:
        print("ruff                not installed (pip install ruff) - no ratio")

    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "model.py"
        small.write_text(SMALL)
        cmd = [sys.executable, "-m", "kerascheck", "check", str(small), "--no-cache"]
        small_time, _ = best_of(cmd, args.runs)
        # An installed kerascheck has its bytecode compiled (pip does it); a checkout run with
        # PYTHONDONTWRITEBYTECODE set recompiles every module on every start. Measure both.
        compiled = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run(cmd, capture_output=True, env=compiled)  # writes the .pyc files once
        compiled_time, _ = best_of(cmd, args.runs, env=compiled)
        start_time, _ = best_of([sys.executable, "-c", "pass"], args.runs)
        libcst_time, _ = best_of([sys.executable, "-c", "import libcst"], args.runs)
    print(f"one small file      {compiled_time:.2f} s with compiled bytecode, {small_time:.2f} s in this "
          f"environment (python start-up alone: {start_time:.2f} s; import libcst alone: {libcst_time:.2f} s)")


if __name__ == "__main__":
    main()
