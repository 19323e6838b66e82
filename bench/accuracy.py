"""How accurate is kerascheck on the Keras code that pip-installable packages ship?

    python bench/accuracy.py                 # install the pins, check, compare with accuracy.csv
    python bench/accuracy.py --site DIR      # reuse packages installed in DIR (skip the install)

Installs the pinned distributions below into a temporary virtual environment (`--no-deps`:
only their source is read, nothing is imported), runs `kerascheck check` (this checkout's, with
every rule that is on by default; KC000 left out) over every top-level package they install,
and compares each finding with the hand-made judgements in `bench/accuracy.csv`:

    package,version,path,line,code,verdict,reason
    keras,3.15.1,keras/src/layers/core/dense_test.py,276,KC003,real,"..."

`verdict` is `real` (what the message says is true of that code) or `false` (it is not), and
`reason` says why in one line, from reading the code. It prints the findings, the judged real
and false, per rule and per package (the README's table, in Markdown), then every finding that has no judgement yet and every
judgement whose finding is gone. It exits 1 when there is either (the counts changed: judge the
new findings, drop the stale rows), 0 when every finding is judged and every row is found.
A new rule needs no change here: its findings show up as not judged until their rows are added.

A library's source is not user code: it is written by people who know Keras well, and it is
full of tests that build odd models on purpose. These counts say how often kerascheck cries
wolf on careful code; they are not a recall figure (kerascheck's misses are not counted).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import venv
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "accuracy.csv"
FIELDS = ("package", "version", "path", "line", "code", "verdict", "reason")
VERDICTS = ("real", "false")

# Distribution -> pinned version. Pure-Python wheels only (any Python, any platform).
PINS = {
    "keras": "3.15.1",
    "tf-keras": "2.21.0",
    "keras-hub": "0.32.0",
    "keras-cv": "0.9.0",
    "keras-cv-attention-models": "1.4.3",
    "tf-models-official": "2.20.0",  # TensorFlow Model Garden: `official` and `orbit`
    "keras-tcn": "3.5.7",
    "deepctr": "0.9.4",
    "segmentation-models": "1.0.1",
    "efficientnet": "1.1.1",
    "keras-unet-collection": "0.1.13",
    "vit-keras": "0.2.0",
    "keras-tuner": "1.4.8",
    "spektral": "1.3.1",
    "tensorflow-recommenders": "0.7.7",
}


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def read_judgements(path: Path = DATA) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != FIELDS:
            raise SystemExit(f"{path}: the header must be {','.join(FIELDS)}")
        rows = list(reader)
    for number, row in enumerate(rows, start=2):
        if row["verdict"] not in VERDICTS or not row["reason"].strip() or not row["line"].isdigit():
            raise SystemExit(f"{path}:{number}: verdict must be one of {VERDICTS}, line a number, reason one line")
    return rows


def install(target: Path) -> Path:
    """A fresh virtual environment under `target` with the pins installed; its site-packages."""
    env = target / "venv"
    venv.create(env, with_pip=False)
    python = env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    pins = [f"{name}=={version}" for name, version in PINS.items()]
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
                    "--disable-pip-version-check", "--target", purelib, *pins], check=True)
    return Path(purelib)


def top_levels(site: Path) -> dict[str, tuple[str, str]]:
    """Each pinned distribution's top-level package folders in `site`: folder -> (distribution, version)."""
    from importlib.metadata import distributions

    found: dict[str, tuple[str, str]] = {}
    for dist in distributions(path=[str(site)]):
        name = canonical(dist.metadata["Name"])
        if name not in PINS:
            continue
        if dist.version != PINS[name]:
            raise SystemExit(f"{site}: {name} is {dist.version}, the pin is {PINS[name]}")
        for file in dist.files or ():
            top = file.parts[0]
            if (site / top).is_dir() and not top.endswith((".dist-info", ".data")) and top != "__pycache__":
                found[top] = (name, dist.version)
    missing = set(PINS) - {name for name, _ in found.values()}
    if missing:
        raise SystemExit(f"{site}: not installed: {', '.join(sorted(missing))}")
    return found


def run_kerascheck(site: Path, folders: list[str]) -> list[dict]:
    cmd = [sys.executable, "-m", "kerascheck", "check", "--no-cache", "--exit-zero", "--no-respect-gitignore",
           "--output-format", "json", "--ignore", "KC000", *sorted(folders)]
    proc = subprocess.run(cmd, cwd=site, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"kerascheck failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def compare(findings: list[dict], rows: list[dict[str, str]], owner: dict[str, tuple[str, str]]):
    """(table rows per rule, unjudged findings, stale judgements)."""
    judged = {(r["path"], int(r["line"]), r["code"]): r for r in rows
              if PINS.get(canonical(r["package"])) == r["version"]}
    stale = [r for r in rows if PINS.get(canonical(r["package"])) != r["version"]]
    seen = set()
    counts: dict[str, Counter] = {}
    unjudged = []
    for f in findings:
        key = (f["path"], f["line"], f["code"])
        package = owner[f["path"].split("/", 1)[0]][0]
        count = counts.setdefault(f["code"], Counter())
        count["findings"] += 1
        count[f"package:{package}"] += 1
        row = judged.get(key)
        if row is None:
            unjudged.append(f)
            count["unjudged"] += 1
            continue
        seen.add(key)
        count[row["verdict"]] += 1
    stale += [r for key, r in judged.items() if key not in seen]
    return counts, unjudged, stale


def markdown(counts: dict[str, Counter], names: dict[str, str]) -> str:
    lines = ["| rule | findings | judged real | judged false | where |", "| --- | ---: | ---: | ---: | --- |"]
    for code in sorted(set(names) | set(counts)):
        c = counts.get(code, Counter())
        where = ", ".join(f"{k.split(':', 1)[1]} {n}" for k, n in sorted(c.items()) if k.startswith("package:"))
        lines.append(f"| {code} {names.get(code, '')} | {c['findings']} | {c['real']} | {c['false']} | {where or '-'} |")
    return "\n".join(lines)


def rule_names() -> dict[str, str]:
    from kerascheck import registry

    return {r.code: r.name for r in registry.load() if r.default}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="packages already installed here (skip the install)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))  # this checkout's kerascheck, for the rule names
    rows = read_judgements()
    with tempfile.TemporaryDirectory(prefix="kerascheck-accuracy-") as tmp:
        site = args.site.resolve() if args.site else install(Path(tmp))
        owner = top_levels(site)
        findings = run_kerascheck(site, list(owner))
    counts, unjudged, stale = compare(findings, rows, owner)
    print(f"{len(findings)} findings in {', '.join(f'{n} {v}' for n, v in PINS.items())}\n")
    print(markdown(counts, rule_names()))
    for f in unjudged:
        print(f"not judged: {f['path']}:{f['line']}:{f['column']}: {f['code']} {f['message']}")
    for r in stale:
        print(f"judged, not found: {r['package']} {r['version']} {r['path']}:{r['line']}: {r['code']}")
    if unjudged or stale:
        print(f"\n{len(unjudged)} findings not judged, {len(stale)} judgements not found: "
              f"update {DATA.relative_to(HERE.parent)}")
        return 1
    print(f"\nevery finding judged ({len(rows)} rows in {DATA.relative_to(HERE.parent)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
