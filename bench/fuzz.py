"""Fuzz kerascheck for as long as asked; print the counts per failure class.

    python bench/fuzz.py [--minutes 30] [--batch 8] [--keep DIR]

The same inputs and checks as tests/test_fuzz.py (tests/fuzzing.py): hypothesmith programs
(`from_grammar`, `from_node`) between Keras imports and every rule's prefilter words, and
byte-level mutants of the rule fixtures; each batch checked with `--jobs 1`, `--jobs 2` and
`--jobs 2 --full-parse` beside an unrelated good file. Unlike the test it is not derandomized:
each run explores new inputs. A batch with a failure is copied to `--keep` (default: a new
temporary folder, printed at the end) with the failure's detail, to reproduce it. Prints
progress every minute; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests import fuzzing  # noqa: E402

CHUNK = 25  # examples per hypothesis run; runs repeat until the time is up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--batch", type=int, default=8, help="files checked together (one CLI run per mode)")
    parser.add_argument("--keep", type=Path, help="where failing batches are copied")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # compiling generated programs warns about escapes
    keep = args.keep or Path(tempfile.mkdtemp(prefix="kerascheck-fuzz-"))
    keep.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="kerascheck-fuzz-work-"))
    started = time.monotonic()
    deadline = started + args.minutes * 60
    counts: Counter = Counter()  # what the files got
    failures: Counter = Counter()  # per failure class
    sources: Counter = Counter()  # files per input kind
    batches = Counter()
    pending: dict[str, list[bytes]] = {"grammar": [], "node": [], "mutant": []}
    last_report = [started]

    def flush(kind: str) -> None:
        files = pending[kind]
        if not files:
            return
        pending[kind] = []
        batches[kind] += 1
        sources[kind] += len(files)
        found = fuzzing.check_batch(files, work, counts)
        for cls, detail in found:
            failures[cls] += 1
            where = keep / f"{cls}-{failures[cls]:03d}"
            where.mkdir()
            for i, data in enumerate(files):
                (where / f"fuzz_{i:03d}.py").write_bytes(data)
            (where / "DETAIL.txt").write_text(f"{kind}: {detail}\n", encoding="utf-8")
        if time.monotonic() - last_report[0] > 60:
            last_report[0] = time.monotonic()
            print(f"[{(last_report[0] - started) / 60:5.1f} min] files {dict(sources)}, "
                  f"failures {dict(failures) or 'none'}", flush=True)

    def add(kind: str, data: bytes) -> None:
        if time.monotonic() > deadline:
            return
        pending[kind].append(data)
        if len(pending[kind]) >= args.batch:
            flush(kind)

    chunk = settings(max_examples=CHUNK, deadline=None, database=None, suppress_health_check=list(HealthCheck))

    @chunk
    @given(st.lists(fuzzing.grammar_programs(), min_size=1, max_size=4))
    def grammar(programs):
        for program in programs:
            add("grammar", program)

    @chunk
    @given(fuzzing.node_programs())  # one per test case: from_node records hypothesis targets
    def node(program):
        add("node", program)

    @chunk
    @given(st.lists(fuzzing.mutants(), min_size=1, max_size=4))
    def mutant(data):
        for item in data:
            add("mutant", item)

    fuzzing.good_alone()
    while time.monotonic() < deadline:
        for run in (grammar, node, mutant):
            if time.monotonic() < deadline:
                run()
    for kind in pending:
        flush(kind)
    shutil.rmtree(work, ignore_errors=True)
    minutes = (time.monotonic() - started) / 60
    print(f"\nkerascheck fuzz: {minutes:.1f} min, {sum(sources.values())} files in {sum(batches.values())} "
          f"batches ({', '.join(f'{k} {v}' for k, v in sources.items())}), each checked 3 ways")
    print("\nfailure class            count")
    for cls in fuzzing.FAILURES:
        print(f"{cls:<24} {failures[cls]:>5}")
    print("\nwhat the fuzzed files got (--jobs 1)")
    for key, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if key != "files":
            print(f"{n:>7}  {key}")
    print(f"\nfailing batches kept in {keep}" if sum(failures.values()) else f"\nno failure (nothing kept in {keep})")


if __name__ == "__main__":
    main()
