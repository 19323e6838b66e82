"""`--output-format sarif`: a SARIF 2.1.0 log with one run, for GitHub code scanning and other viewers.

The run lists every rule (id, name, descriptions, and its whole documentation as help text
and Markdown: the project has no public home to link to, so no `helpUri`). Each result has a physical location whose URI is relative to `%SRCROOT%`,
the current directory (files outside it get an absolute `file:` URI), and a
`partialFingerprints` entry built from the baseline identity (path, code, flagged
code, occurrence), so an edit above a finding does not make it a new alert. Related places
(the Dropout that feeds a flagged BN, in this file or in another one) are `relatedLocations`.
A finding with a fix carries it as SARIF `fixes` (one `artifactChange`, a `replacement` per
edit, the applicability in its `properties`); notebook findings do not, since their edits
count lines in cells, not in the JSON file a viewer would apply them to.
`--statistics` does not apply: a SARIF log always holds every result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from urllib.parse import quote

from kerascheck import __version__
from kerascheck.baseline import keyed, relative_path

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"
FINGERPRINT = "kerascheck/v1"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _section(doc: str, heading: str) -> str:
    match = re.search(rf"^## {heading}[^\n]*\n(.*?)(?=^## |\Z)", doc, re.M | re.S)
    return " ".join(match.group(1).split()) if match else ""


def _descriptor(rule) -> dict:
    import inspect

    doc = inspect.cleandoc(rule.doc)
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": _section(doc, "What it does") or rule.summary},
        "help": {"text": doc, "markdown": doc},  # all of `kerascheck rule KCnnn`: it needs no link
        "defaultConfiguration": {"level": LEVEL.get(rule.severity, "warning")},
    }


def _location(path: str, cwd: Path) -> dict:
    """The file's URI: its name's bytes percent-encoded (RFC 3986), so a name that is not UTF-8
    still points at the file."""
    rel = relative_path(path, cwd)
    if Path(rel).is_absolute():
        return {"uri": Path(rel).as_uri()}
    return {"uri": quote(os.fsencode(rel), safe="/"), "uriBaseId": SRCROOT}


def _fix(f, cwd: Path) -> dict:
    """A finding's fix as a SARIF `fix`: one artifact change, a replacement per edit."""
    replacements = [{
        "deletedRegion": {"startLine": e["line"], "startColumn": e["column"],
                          "endLine": e["end_line"], "endColumn": e["end_column"]},
        "insertedContent": {"text": e["content"]},
    } for e in f.fix["edits"]]
    return {
        "description": {"text": f.fix["message"]},
        "artifactChanges": [{"artifactLocation": _location(f.path, cwd), "replacements": replacements}],
        "properties": {"applicability": f.fix["applicability"]},
    }


def _related(i: int, r, f, cwd: Path) -> dict:
    region = {"startLine": r.line, "startColumn": r.column,
              "endLine": max(r.end_line, r.line), "endColumn": max(r.end_column, 1)}
    location = {"id": i, "physicalLocation": {"artifactLocation": _location(r.path or f.path, cwd), "region": region},
                "message": {"text": r.message}}
    if r.cell is not None:
        location["properties"] = {"cell": r.cell}
    return location


def log(result) -> dict:
    from kerascheck import registry

    cwd = Path.cwd()
    rules = registry.all_rules()
    index = {r.code: i for i, r in enumerate(rules)}
    results = []
    for f, key in keyed(result.findings, cwd):
        region = {"startLine": f.line, "startColumn": f.column,
                  "endLine": max(f.end_line, f.line), "endColumn": max(f.end_column, 1)}
        item = {
            "ruleId": f.code,
            "level": LEVEL.get(f.severity, "warning"),
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {"artifactLocation": _location(f.path, cwd), "region": region}}],
            "partialFingerprints": {
                FINGERPRINT: hashlib.sha256("\0".join(map(str, key)).encode("utf-8", "surrogatepass")).hexdigest()[:32],
            },
        }
        if f.related:  # the other places of the same cause (the Dropout, where the KerasTensor was made, ...)
            item["relatedLocations"] = [_related(i, r, f, cwd) for i, r in enumerate(f.related)]
        if f.code in index:
            item["ruleIndex"] = index[f.code]
        if f.fix and f.cell is None:  # a notebook's edits count lines in cells, not in the JSON file
            item["fixes"] = [_fix(f, cwd)]
        properties = {}
        if f.cell is not None:  # a notebook: the region counts lines within this cell
            properties["cell"] = f.cell
            item["locations"][0]["logicalLocations"] = [{"name": f"cell {f.cell}", "kind": "module"}]
        if f.confirm:
            properties["confirm"] = f.confirm
        if properties:
            item["properties"] = properties
        results.append(item)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "kerascheck",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_descriptor(r) for r in rules],
            }},
            "originalUriBaseIds": {SRCROOT: {"uri": cwd.resolve().as_uri().rstrip("/") + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def render(result, stream, **_: object) -> None:
    json.dump(log(result), stream, indent=2, ensure_ascii=False, default=str)
    stream.write("\n")
