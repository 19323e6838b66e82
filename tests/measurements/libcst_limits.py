"""Which shapes of valid Python crash or stall libcst's native parser, and from what size.

    python tests/measurements/libcst_limits.py > tests/measurements/libcst_limits.out

Part 1 parses `x = <shape of size n>` with `libcst.parse_module`, each in its own process (a
crash kills only that process), for growing n, until the parse crashes, fails, or takes longer
than TIMEOUT. It prints, per run, the outcome, the CPU time (user + system, so the machine's
other load does not count) and the peak RSS of the process. kerascheck.parse.LIMITS is set from
this table: each limit lies where the parse still takes about a second of CPU or less, well
below the size that crashes.

Part 2 checks kerascheck itself at each limit: a file holding the shape at its limit inside a
function that also holds a real KC001 finding must give that finding, no KC000 and no
`RecursionError` (the analysis needs no recursion deeper than the parser's); just over the
limit, the file must be one KC000 saying so. Run with --full-parse semantics (libcst sees the
whole file).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys

TIMEOUT = 120.0  # seconds of wall time per parse (a busy machine takes longer)
MEMORY = 6 * 1024**3  # bytes: data segment cap of each measuring process

SHAPES = {
    # name: (family in kerascheck.parse.LIMITS or None, template of the expression, sizes,
    #        (a, b): kerascheck counts a * n + b steps of the family in it)
    "and": ("boolean", "a{' and a' * n}", (1000, 2000, 4000, 6000, 7000, 8000, 16000), (1, 1)),
    "and/or": ("boolean", "a{' and a or a' * (n // 2)}", (1000, 2000, 4000, 6000, 8000), None),
    "plus": ("binary", "1{' + 1' * n}", (100, 200, 400, 600, 800, 1600, 3200), (1, 0)),
    "times/plus": ("binary", "1{' * 1 + 1' * (n // 2)}", (200, 400, 800, 1600, 3200), None),
    "power": ("binary", "a{'**a' * n}", (100, 200, 400, 800, 1600), (1, 0)),
    "attribute": ("primary", "a{'.b' * n}", (100, 200, 300, 500, 800, 1600, 3200, 6400), (1, 0)),
    "call": ("primary", "f{'()' * n}", (100, 200, 300, 500, 800, 1600, 3200), (1, 0)),
    "subscript": ("primary", "a{'[0]' * n}", (100, 200, 300, 500, 800, 1600), (1, 0)),
    "mixed primary": ("primary", "a{'.b()[0]' * (n // 3)}", (150, 300, 600, 1200, 2400), (1, 0)),
    "minus": ("unary", "{'-' * n}1", (100, 200, 400, 800, 1600, 3200), (1, 0)),
    "not": ("unary", "{'not ' * n}a", (100, 200, 400, 800, 1600, 3200), (1, 0)),
    "conditional": ("conditional", "a{' if b else a' * n}", (100, 200, 400, 800, 1600), (1, 0)),
    "lambda": ("lambda", "{'lambda: ' * n}0", (100, 200, 400, 800, 1600), (1, 0)),
    "list of ints": ("literal", "[{'1, ' * n}]", (1000, 10000, 20000, 30000, 50000, 100000, 300000), (1, 0)),
    "dict": ("literal", "{{{'1: 1, ' * n}}}", (1000, 10000, 20000, 30000, 50000, 100000), (2, 0)),
    "call arguments": ("literal", "f({'a, ' * n})", (1000, 10000, 20000, 30000, 50000, 100000), (1, 0)),
    "compare": (None, "a{' < a' * n}", (1000, 4000, 16000, 64000), None),
    "adjacent strings": (None, "{chr(39) + 'a' + chr(39) + ' '}{(chr(39) + 'a' + chr(39) + ' ') * n}",
                         (1000, 2000, 3000, 4000, 16000), None),  # implicit concatenation: one ast Constant
}

CHILD = r"""
import json, resource, sys, time
sys.setrecursionlimit(10_000)  # as kerascheck's workers
import libcst
text = open(sys.argv[1], encoding="utf-8").read()
start = time.process_time()
try:
    libcst.parse_module(text)
    outcome = "ok"
except BaseException as exc:
    outcome = type(exc).__name__
cpu = time.process_time() - start
print(json.dumps([outcome, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024]))
"""


def expression(template: str, n: int) -> str:
    return eval(f"f{template!r}", {"n": n})  # the templates above are this file's own


def run_child(path: str) -> tuple[str, float, int | str]:
    """(outcome, CPU seconds, peak RSS MB) of parsing `path` in a fresh process: the parse's own
    CPU time, or for a crash or a timeout the whole process's."""
    def limit():
        resource.setrlimit(resource.RLIMIT_DATA, (MEMORY, resource.RLIM_INFINITY))

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, path], capture_output=True, text=True,
                              timeout=TIMEOUT, preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return f"over {TIMEOUT:g} s", TIMEOUT, "-"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode < 0:
        return f"crash (signal {-proc.returncode})", cpu, "-"
    if "memory allocation of" in proc.stderr:
        return "memory", cpu, "-"
    try:
        outcome, cpu, peak = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return f"exit {proc.returncode}", cpu, "-"
    return outcome, cpu, peak


def part1(tmp: str) -> None:
    print("## Part 1: libcst.parse_module on `x = <shape>` (one process per run)\n")
    print(f"{'shape':<18} {'family':<11} {'n':>7}  {'outcome':<22} {'CPU s':>7} {'peak MB':>8}")
    for name, (family, template, sizes, _) in SHAPES.items():
        for n in sizes:
            path = os.path.join(tmp, "shape.py")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(f"x = {expression(template, n)}\n")
            outcome, cpu, peak = run_child(path)
            print(f"{name:<18} {family or '-':<11} {n:>7}  {outcome:<22} {cpu:>7.2f} {peak:>8}", flush=True)
            if outcome != "ok" or cpu > TIMEOUT / 2:
                break


KC001 = """\
import keras
from keras import layers


def build(a, b, f):
    x = layers.Dropout(0.5)(a)
    y = layers.BatchNormalization()(x)
    z = {expr}
    return y
"""


def part2(tmp: str) -> None:
    from kerascheck.parse import LIMITS

    print("\n## Part 2: kerascheck (full parse) at each limit and just over it\n")
    print(f"{'shape':<18} {'n':>7}  {'findings':<46} {'CPU s':>7}")
    for name, (family, template, _, steps) in SHAPES.items():
        if steps is None:  # the count depends on how the chain nests: part 1 only
            continue
        limit = LIMITS[family][0]
        a, b = steps
        at = (limit - b) // a
        for n in (at, at + (limit // 10 + 40) // a):
            text = KC001.format(expr=expression(template, n))
            path = os.path.join(tmp, "check.py")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            code = ("import json, sys, time\nfrom kerascheck.config import Settings\n"
                    "from kerascheck.engine import check_text\n"
                    "text = open(sys.argv[1], encoding='utf-8').read()\n"
                    "found = check_text(text, 'check.py', Settings(full_parse=True))\n"
                    "print(json.dumps([f'{f.code}:{f.line} {f.message[:30]}' for f in found]))\n")
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            try:
                proc = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                                      timeout=TIMEOUT)
                out = proc.stdout.strip() or f"exit {proc.returncode}: {proc.stderr.strip()[-80:]}"
            except subprocess.TimeoutExpired:
                out = f"over {TIMEOUT:g} s"
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            print(f"{name:<18} {n:>7}  {out:<46} {cpu:>7.2f}", flush=True)


def main() -> None:
    import tempfile

    import libcst

    version = getattr(libcst, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("libcst")
    print(f"libcst {version}, Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs; CPU times: user + system\n")
    with tempfile.TemporaryDirectory() as tmp:
        part1(tmp)
        part2(tmp)


if __name__ == "__main__":
    main()
