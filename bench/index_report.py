"""What the project index finds in a code base: names resolved into the project, Keras classes
known only through another module, definitions of other modules loaded, what functions return,
and the findings that exist only because of cross-file knowledge.

    python bench/index_report.py [CORPUS ...]      # default: the installed keras_hub/src and tf_keras/src

For each corpus: the import graph (files importing project modules), the names those imports
resolve to (functions, classes, constants, modules, library re-exports), the classes of the code
base that are Keras layers, models or constraints only through a base class in another module,
the return values of the imported functions (the index's summaries), and the findings of a run
with the index minus those of a run with `--no-project` (each printed, to be judged by hand).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from kerascheck import engine
from kerascheck.config import Settings
from kerascheck.project import STRUCTURAL


def installed(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    return Path(spec.origin).parent / "src" if spec is not None and spec.origin else None


def findings(corpus: Path, *extra: str) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "kerascheck", "check", str(corpus), "--no-cache", "--exit-zero",
                           "--output-format", "json", *extra], capture_output=True, text=True)
    return json.loads(proc.stdout)


def report(corpus: Path) -> None:
    files = sorted(corpus.rglob("*.py"))
    index = engine.make_index(Settings(root=Path.cwd()))
    for path in files:
        index.add(path, path.read_bytes(), keep=False)
    importing = 0
    kinds: Counter = Counter()
    returns: Counter = Counter()
    through: list[str] = []
    seen: set[str] = set()
    for path in files:
        scan = index.scan(path)
        resolved = [index.resolve(name, path) for name, _ in (scan.names if scan else ())]
        if any(s is not None and s.kind != "external" for s in resolved):
            importing += 1
        for sym in resolved:
            if sym is None or sym.raw in seen:
                continue
            seen.add(sym.raw)
            kinds[sym.kind] += 1
            if sym.kind == "def":
                value = index.returns(sym)
                returns[value.kind if value.kind != "tensor" else "KerasTensor" if value.kt or value.params else "tensor"] += 1
        summary = index.summary(path) if path.suffix == ".py" else None
        for name, info in (summary or {}).get("classes", {}).items():
            sym = index.resolve(f"{index.module_name(path)[0]}.{name}", path)
            if sym is None or sym.kind != "class":
                continue
            bases = [index.lookup(path, b) for b in info["bases"] if b]
            if any(b is not None and b.kind == "class" for b in bases):  # a base in the project
                kind = index.class_kind(sym)
                if kind is not None:
                    inherited = [m for m in STRUCTURAL if m not in info["methods"]]
                    through.append(f"{kind[0]:<10} {path.relative_to(corpus)}:{info['line']} {name} "
                                   f"(inherits {', '.join(inherited) or 'no structural method'})")
    print(f"corpus              {corpus}")
    print(f"files               {len(files)}, of which {importing} import project modules")
    print(f"imported names      " + ", ".join(f"{n} {k}" for k, n in kinds.most_common()))
    print(f"imported functions  return: " + ", ".join(f"{n} {k}" for k, n in returns.most_common()))
    print(f"project-based       {len(through)} classes are Keras classes through a base in the project")
    with_index, alone = findings(corpus), findings(corpus, "--no-project")
    key = lambda f: (f["path"], f["line"], f["column"], f["code"], f["message"])  # noqa: E731
    new = sorted(set(map(key, with_index)) - set(map(key, alone)))
    gone = sorted(set(map(key, alone)) - set(map(key, with_index)))
    print(f"findings            {len(with_index)} with the index, {len(alone)} without; "
          f"{len(new)} only with it, {len(gone)} only without")
    for f in new:
        print(f"  + {f[0]}:{f[1]}:{f[2]} {f[3]} {f[4]}")
    for f in gone:
        print(f"  - {f[0]}:{f[1]}:{f[2]} {f[3]} {f[4]}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="*", type=Path)
    args = parser.parse_args()
    for corpus in args.corpus or [c for c in (installed("keras_hub"), installed("tf_keras")) if c is not None]:
        report(corpus)


if __name__ == "__main__":
    main()
