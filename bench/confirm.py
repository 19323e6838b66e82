"""Benchmark of confirm mode: per-rule verdicts and time per finding on the fixtures.

    python bench/confirm.py [PATH ...] [--timeout SECONDS]

By default the paths are the rule fixtures (`fixtures/kc*`) and `fixtures/confirm/built_from_code.py`.
Lints them, builds every finding's job and runs the jobs as `kerascheck check --confirm` does (one
TensorFlow child per Keras version). Prints, per rule: findings, confirmed / not reproduced / could
not build, the median and maximum wall time per finding (as the parent measures it: the job, its
cleanup and the round trip) and the median CPU time of the job in the child (what the machine's
load does not change); then the TensorFlow start-ups and the load average before and after, since
other processes on the machine slow wall times down. The target: a median under 1 s per finding
for KC001-KC005. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kerascheck import engine, registry  # noqa: E402
from kerascheck.config import Settings  # noqa: E402
from kerascheck.confirm import CONFIRMED, COULD_NOT_BUILD, NOT_REPRODUCED  # noqa: E402
from kerascheck.confirm.jobs import build_jobs  # noqa: E402
from kerascheck.confirm.runner import confirm_findings  # noqa: E402
from kerascheck.discover import Target  # noqa: E402

TARGET_SECONDS = 1.0


def _paths(args: list[str]) -> list[Path]:
    if args:
        found = []
        for a in args:
            p = Path(a)
            found += sorted(p.rglob("*.py")) if p.is_dir() else [p]
        return found
    paths = [p for d in sorted((ROOT / "fixtures").iterdir()) if d.is_dir() and d.name.startswith("kc")
             for p in sorted(d.glob("*.py"))]
    return paths + [ROOT / "fixtures" / "confirm" / "built_from_code.py"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    paths = _paths(args.paths)
    settings = Settings(root=ROOT)
    plan = engine.Plan.make(settings, registry.load(), registry.enabled(None, ()))
    targets = [Target(p, p.resolve().relative_to(ROOT).as_posix() if p.resolve().is_relative_to(ROOT) else str(p))
               for p in paths]
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = engine.run(targets, plan, jobs=1)
        findings = result.findings
        load_before = os.getloadavg()
        started = time.perf_counter()
        jobs = build_jobs(findings, plan)
        built = time.perf_counter() - started
        done, stats = confirm_findings(findings, jobs, args.timeout)
        load_after = os.getloadavg()
    finally:
        os.chdir(cwd)
    rows: dict[str, dict] = {}
    for i, f in enumerate(done):
        row = rows.setdefault(f.code, {"wall": [], "cpu": [], CONFIRMED: 0, NOT_REPRODUCED: 0, COULD_NOT_BUILD: 0})
        row[f.confirm["verdict"]] += 1
        if i in stats.cpu:  # run in the child (not a recipe's own "could not build")
            row["wall"].append(f.confirm["seconds"])
            row["cpu"].append(stats.cpu[i])
    print(f"confirm mode on {len(paths)} files, {len(findings)} findings "
          f"(jobs built in {built:.1f} s, run in {stats.seconds:.1f} s)")
    head = ("rule", "findings", "confirmed", "not repr.", "could not", "median s", "max s", "median CPU s", "< 1 s")
    print("  ".join(f"{h:>12}" if i else f"{h:<6}" for i, h in enumerate(head)))
    for code in sorted(rows):
        row = rows[code]
        n = row[CONFIRMED] + row[NOT_REPRODUCED] + row[COULD_NOT_BUILD]
        wall = statistics.median(row["wall"]) if row["wall"] else 0.0
        cpu = statistics.median(row["cpu"]) if row["cpu"] else 0.0
        cells = (code, n, row[CONFIRMED], row[NOT_REPRODUCED], row[COULD_NOT_BUILD], f"{wall:.2f}",
                 f"{max(row['wall'], default=0.0):.2f}", f"{cpu:.2f}", "yes" if wall < TARGET_SECONDS else "NO")
        print("  ".join(f"{c:>12}" if i else f"{c:<6}" for i, c in enumerate(cells)))
    for f in done:  # the findings of rules with a recipe that did not confirm, with the reason
        if f.confirm["verdict"] != CONFIRMED and rows[f.code][CONFIRMED]:
            print(f"  {f.path}:{f.line}:{f.column} {f.code} {f.confirm['verdict']}: {f.confirm.get('evidence', '')[:160]}")
    for version, (n, seconds, lib) in sorted(stats.versions.items(), reverse=True):
        print(f"TensorFlow start-up, Keras {version} ({lib}): {seconds:.1f} s x{n}")
    print(f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}, on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
