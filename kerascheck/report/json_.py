"""`--output-format json`: a JSON array, one object per finding (keys documented in README)."""

from __future__ import annotations

import json
from collections import Counter


def render(result, stream, *, statistics: bool = False, **_: object) -> None:
    findings = result.findings
    if statistics:
        counts = Counter((f.code, f.name) for f in findings)
        data = [{"code": code, "name": name, "count": n} for (code, name), n in sorted(counts.items())]
    else:
        data = [f.to_json() for f in findings]
    json.dump(data, stream, indent=2, ensure_ascii=False)
    stream.write("\n")
