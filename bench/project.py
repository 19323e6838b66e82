"""Benchmark of the project index (issue 15): a generated project, and tf_keras/src.

    python bench/project.py [--modules 2000] [--depth 20] [--runs 1] [--scaling] [--no-tf-keras]

1. Generates a project of N modules in import chains D deep (`generate`): chain c is the package
   `app/chain<c>/` with modules m00 ... m<D-1>; each module imports the previous one's block
   and base class (and a constant of its chain's m00), wraps the block, derives a layer class
   and builds a model from its block (so that every module is parsed); m00 ends its block in
   Dropout, the last module puts BatchNormalization after its block. Filler (plain functions)
   pads every module.
2. Cold run without the cache: wall and CPU time (all processes) and the peak RSS of the
   largest process (the main one or a worker), with the project index and with `--no-project`.
3. With the cache: a cold run, then one edit to a leaf module (chain 0's m00), then a warm run:
   it prints how many files were parsed again and how many came from the cache.
4. `--scaling`: cold CPU time for N/4, N/2 and N modules (time per module must not grow).
5. tf_keras/src: cold CPU time with the index and with `--no-project` (the index's share).

Prints figures; asserts nothing.
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

FILLER = '''

def helper_{n}(values, scale=2):
    """Filler: plain Python with no Keras in it, as most of a project is."""
    total = 0
    for i, value in enumerate(values):
        if i % scale:
            total += value * scale
        else:
            total -= value
    return {{"total": total, "count": len(values), "name": "helper_{n}"}}
'''


def module_text(chain: int, depth: int, i: int) -> str:
    lines = ["import tensorflow as tf", "from tensorflow.keras import layers", ""]
    if i == 0:
        lines += ["RATE = 0.5", "SCALE = 1", "", "",
                  "def block_0(x, units=16):",
                  "    x = layers.Dense(units, activation=\"relu\")(x)",
                  "    return layers.Dropout(RATE)(x)", "", "",
                  "class Base0(layers.Layer):", "    def call(self, x, training=None):", "        return x"]
    else:
        lines = [f"from .m00 import SCALE", f"from .m{i - 1:02d} import Base{i - 1}, block_{i - 1}", *lines,
                 "", f"def block_{i}(x, units=16):", f"    return block_{i - 1}(x, units * SCALE)", "", "",
                 f"class Base{i}(Base{i - 1}):", f"    scale = SCALE"]
    # Every module is worth parsing: it builds a model from its chain's block (KC004's anchor).
    lines += ["", "", "def probe():", "    inputs = tf.keras.Input((16,))", f"    return block_{i}(inputs)"]
    if i == depth - 1:
        lines += ["", "", "def build():", "    inputs = tf.keras.Input((16,))", f"    x = block_{i}(inputs)",
                  "    x = layers.BatchNormalization()(x)", "    return tf.keras.Model(inputs, x)"]
    text = "\n".join(lines) + "\n"
    for n in range(3):
        text += FILLER.format(n=n)
    return text


def generate(root: Path, modules: int, depth: int) -> Path:
    """N modules in N / depth chains, each `depth` deep."""
    chains = max(1, modules // depth)
    if root.exists():
        shutil.rmtree(root)
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = \"generated\"\n")
    (root / "app" / "__init__.py").write_text("")
    for c in range(chains):
        package = root / "app" / f"chain{c:03d}"
        package.mkdir()
        (package / "__init__.py").write_text(f"from .m{depth - 1:02d} import block_{depth - 1} as block\n")
        for i in range(depth):
            (package / f"m{i:02d}.py").write_text(module_text(c, depth, i))
    return root


def run(args: list[str], cwd: Path) -> tuple[float, float, int, str, str]:
    """(wall s, CPU s of the process and its children, peak RSS in MB of the largest, stdout, stderr)
    of one kerascheck run, in a fresh interpreter so that RUSAGE_CHILDREN counts it alone."""
    code = ("import resource, subprocess, sys, time\n"
            "t = time.perf_counter()\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "w = time.perf_counter() - t\n"
            "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "sys.stderr.write(p.stderr)\nsys.stdout.write(p.stdout)\n"
            "sys.stderr.write(f'\\nBENCH {w} {u.ru_utime + u.ru_stime} {u.ru_maxrss}\\n')\n")
    env = {**os.environ, "KERASCHECK_DEBUG_STATS": "1"}
    proc = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "kerascheck", "check", *args],
                          capture_output=True, text=True, cwd=cwd, env=env)
    wall, cpu, rss = proc.stderr.rsplit("BENCH ", 1)[1].split()
    return float(wall), float(cpu), int(rss) // 1024, proc.stdout, proc.stderr


def stats(stderr: str) -> dict[str, int]:
    match = re.search(r"kerascheck: debug: (.*)", stderr)
    return {k: int(v) for k, v in (item.split("=") for item in match.group(1).split())} if match else {}


def best(args: list[str], cwd: Path, runs: int):
    results = [run(args, cwd) for _ in range(runs)]
    return min(results, key=lambda r: r[1])


def cold(root: Path, runs: int, label: str) -> None:
    for extra, name in (((), "with the index"), (("--no-project",), "--no-project")):
        wall, cpu, rss, out, err = best([".", "--no-cache", "--exit-zero", "-q", "--statistics", *extra], root, runs)
        s = stats(err)
        found = sum(int(n) for n in re.findall(r"^ *(\d+)", out, re.M))  # the --statistics counts
        print(f"{label:<20}{name:<16} wall {wall:6.2f} s  CPU {cpu:6.2f} s  peak RSS {rss:4d} MB  "
              f"files {s.get('files')}, parsed {s.get('parsed')}, findings {found}")


def warm(root: Path) -> None:
    cache = root / ".kerascheck_cache"
    shutil.rmtree(cache, ignore_errors=True)
    args = [".", "--exit-zero", "-q"]
    wall, cpu, _, _, err = run(args, root)
    s = stats(err)
    print(f"cache cold          wall {wall:6.2f} s  CPU {cpu:6.2f} s  parsed {s.get('parsed')}, cached {s.get('cached')}")
    wall, cpu, _, _, err = run(args, root)
    s = stats(err)
    print(f"cache warm          wall {wall:6.2f} s  CPU {cpu:6.2f} s  parsed {s.get('parsed')}, cached {s.get('cached')} "
          f"(nothing changed)")
    leaf = root / "app" / "chain000" / "m00.py"
    leaf.write_text(leaf.read_text() + "\n\ndef touched():\n    return 1\n")
    wall, cpu, _, _, err = run(args, root)
    s = stats(err)
    print(f"after a leaf edit   wall {wall:6.2f} s  CPU {cpu:6.2f} s  parsed {s.get('parsed')}, cached {s.get('cached')} "
          f"(app/chain000/m00.py changed: it and the files that import it, directly or not)")
    wall, cpu, _, _, err = run(["app/chain000/m00.py", "--exit-zero", "-q"], root)
    s = stats(err)
    print(f"pre-commit style    wall {wall:6.2f} s  CPU {cpu:6.2f} s  `check app/chain000/m00.py`: "
          f"{s.get('dependents', 0)} of {s.get('candidates', 0)} dependents checked again (unaffected since the warm run)")


def installed(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    return Path(spec.origin).parent / "src" if spec is not None and spec.origin else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument("--no-tf-keras", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        root = generate(Path(tmp) / "generated", args.modules, args.depth)
        files = sum(1 for _ in root.rglob("*.py"))
        print(f"generated           {args.modules} modules in chains {args.depth} deep ({files} files with the "
              f"__init__.py) in {time.perf_counter() - started:.1f} s")
        cold(root, args.runs, f"{args.modules} modules")
        warm(root)
        if args.scaling:
            for n in (args.modules // 4, args.modules // 2, args.modules):
                small = generate(Path(tmp) / f"gen{n}", n, args.depth)
                wall, cpu, rss, _, _ = best([".", "--no-cache", "--exit-zero", "-q"], small, args.runs)
                print(f"scaling {n:>5} modules  CPU {cpu:6.2f} s ({1000 * cpu / n:.2f} ms per module), "
                      f"peak RSS {rss} MB")
    corpus = installed("tf_keras")
    if corpus is not None and not args.no_tf_keras:
        results = {}
        for extra, name in (((), "with the index"), (("--no-project",), "--no-project")):
            wall, cpu, rss, _, _ = best([str(corpus), "--no-cache", "--exit-zero", "-q", *extra],
                                        Path(tempfile.gettempdir()), args.runs)
            results[name] = cpu
            print(f"tf_keras/src        {name:<16} wall {wall:6.2f} s  CPU {cpu:6.2f} s  peak RSS {rss:4d} MB")
        share = 100 * (results["with the index"] / results["--no-project"] - 1)
        print(f"tf_keras/src        the project pass adds {share:+.1f} % CPU to a cold run")


if __name__ == "__main__":
    main()
