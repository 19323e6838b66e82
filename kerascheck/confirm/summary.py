"""The table `--confirm` ends with (on stderr): verdicts and time per rule, and the TensorFlow start-ups."""

from __future__ import annotations

import statistics

from kerascheck.confirm import CONFIRMED, COULD_NOT_BUILD, NOT_REPRODUCED

COLUMNS = (CONFIRMED, NOT_REPRODUCED, COULD_NOT_BUILD)


def table(findings, stats) -> str:
    """`findings` with their `confirm` verdicts filled in; `stats` the runner's Stats."""
    rows: dict[str, dict] = {}
    for f in findings:
        c = f.confirm or {}
        row = rows.setdefault(f.code, {"seconds": [], **{k: 0 for k in COLUMNS}})
        verdict = c.get("verdict")
        if verdict in COLUMNS:
            row[verdict] += 1
        row["seconds"].append(float(c.get("seconds") or 0.0))
    counts = ", ".join(f"{n} {v}" for v, n in sorted(stats.verdicts.items())) or "nothing to confirm"
    lines = [f"kerascheck: confirm: {counts} in {stats.seconds:.1f} s"]
    if rows:
        head = ("rule", *COLUMNS, "seconds", "median s")
        body = []
        for code in sorted(rows):
            row = rows[code]
            body.append((code, *(str(row[k]) for k in COLUMNS), f"{sum(row['seconds']):.1f}",
                         f"{statistics.median(row['seconds']):.2f}"))
        if len(rows) > 1:
            every = [s for row in rows.values() for s in row["seconds"]]
            body.append(("all", *(str(sum(row[k] for row in rows.values())) for k in COLUMNS),
                         f"{sum(every):.1f}", f"{statistics.median(every):.2f}"))
        widths = [max(len(r[i]) for r in (head, *body)) for i in range(len(head))]
        for r in (head, *body):
            lines.append("  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                          for i, (cell, w) in enumerate(zip(r, widths))))
    if stats.startups:
        parts = [f"Keras {v} ({info[2]}) {info[1]:.1f} s x{info[0]}" for v, info in sorted(
            stats.versions.items(), reverse=True)]
        lines.append(f"  TensorFlow start-up {stats.startup_seconds:.1f} s x{stats.startups}"
                     + (f": {', '.join(parts)}" if parts else ""))
    return "\n".join(lines)
