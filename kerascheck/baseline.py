"""Baselines: `check --write-baseline FILE` records today's findings, `--baseline FILE`
reports only the ones that are not in it.

A finding's identity is its path (relative to the baseline's folder), its code, a
hash of the flagged code with whitespace removed (`Finding.snippet`) and which
occurrence of that triple it is in the file, counted from the top. Line numbers
are not part of it, so an edit above a finding does not make it new, while a
second instance of the same rule on the same code in the same file does.
The SARIF reporter uses the same identity for its `partialFingerprints`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Iterable

from kerascheck.atomic import output
from kerascheck.finding import printable_path

FORMAT_VERSION = 1

Key = tuple[str, str, str, int]  # path, code, snippet hash, occurrence


class BaselineError(Exception):
    """A missing or malformed baseline file: exit 2 with a one-line message."""


def relative_path(display: str, base: Path) -> str:
    """A finding's path relative to `base` (both resolved), or absolute when outside it."""
    path = Path(display).resolve()
    try:
        return path.relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def snippet_hash(snippet: str) -> str:
    return hashlib.sha256(snippet.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def keyed(findings: Iterable, base: Path) -> list[tuple[object, Key]]:
    """Each finding with its identity; findings in report order (path, line, column)."""
    seen: Counter = Counter()
    paths: dict[str, str] = {}
    out = []
    for f in sorted(findings, key=lambda f: f.sort_key()):
        if f.path not in paths:
            paths[f.path] = printable_path(relative_path(f.path, base))
        triple = (paths[f.path], f.code, snippet_hash(f.snippet))
        seen[triple] += 1
        out.append((f, (*triple, seen[triple])))
    return out


def write(path: Path, findings: Iterable) -> int:
    """Record `findings` in `path` (atomically); returns how many."""
    entries = [
        {"path": key[0], "code": key[1], "hash": key[2], "occurrence": key[3],
         "line": f.line, "message": f.message}  # line and message are for readers, not matched
        for f, key in keyed(findings, path.parent)
    ]
    data = {"kerascheck-baseline": FORMAT_VERSION, "findings": entries}
    try:
        with output(str(path)) as stream:
            json.dump(data, stream, indent=2, ensure_ascii=False)
            stream.write("\n")
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {path}: {exc.strerror or exc}") from None
    return len(entries)


def load(path: Path) -> list[Key]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"baseline file not found: {path}") from None
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"baseline {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("kerascheck-baseline") != FORMAT_VERSION:
        raise BaselineError(f"{path} is not a kerascheck baseline (version {FORMAT_VERSION}); "
                            "write one with --write-baseline")
    keys = []
    for i, entry in enumerate(data.get("findings", ())):
        try:
            key = (entry["path"], entry["code"], entry["hash"], entry["occurrence"])
        except (TypeError, KeyError) as exc:
            raise BaselineError(f"baseline {path}: entry {i} lacks {exc}") from None
        if not all(isinstance(v, str) for v in key[:3]) or type(key[3]) is not int:
            raise BaselineError(f"baseline {path}: entry {i} is malformed")
        keys.append(key)
    return keys


@dataclasses.dataclass(frozen=True)
class Applied:
    result: object  # the RunResult without the baselined findings
    hidden: int  # findings the baseline matched
    stale: int  # baseline entries for checked files and enabled codes that matched nothing


def apply(result, path: Path, enabled: set[str], paths: Iterable[str] = ()):
    """Drop the findings recorded in the baseline at `path`; count its stale entries.

    An entry can be stale only if its code is enabled and its file was checked in this
    run, or no longer exists under one of `paths` (the command line's): a run over part
    of the tree says nothing about the rest."""
    recorded = Counter(load(path))
    base = path.parent
    known = set()
    for f, key in keyed(result.findings, base):
        if recorded[key] > 0:
            recorded[key] -= 1
            known.add(id(f))
    files = [dataclasses.replace(fr, findings=tuple(f for f in fr.findings if id(f) not in known))
             for fr in result.files]
    # Only files checked in this run, and codes enabled in it, can tell that an entry is stale.
    checked = {printable_path(relative_path(fr.display, base)) for fr in result.files}
    roots = [Path(p).resolve() for p in paths]

    def judged(entry_path: str) -> bool:
        if entry_path in checked:
            return True
        where = (base / entry_path).resolve()
        return not where.exists() and any(r == where or r in where.parents for r in roots)

    stale = sum(n for key, n in recorded.items() if n > 0 and key[1] in enabled and judged(key[0]))
    return Applied(dataclasses.replace(result, files=files), len(known), stale)
