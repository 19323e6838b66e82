"""`--output-format github`: GitHub Actions workflow commands, one annotation per finding.

    ::error file=model.py,line=3,col=42,endLine=3,endColumn=70,title=KC001::Dropout feeds ...

Escaping follows the runner's rules (actions/toolkit `command.ts`): in the
message `%`, CR and LF are percent-encoded; in properties `:` and `,` as well.
"""

from __future__ import annotations

from collections import Counter

from kerascheck.finding import printable_path

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def line(f) -> str:
    props = {"file": printable_path(f.path), "line": f.line, "col": f.column, "endLine": f.end_line,
             "endColumn": f.end_column, "title": f.code}
    joined = ",".join(f"{key}={escape_property(str(value))}" for key, value in props.items())
    message = f.message if f.cell is None else f"cell {f.cell}, line {f.line}: {f.message}"
    return f"::{COMMAND.get(f.severity, 'error')} {joined}::{escape_data(message)}"


def render(result, stream, *, statistics: bool = False, **_: object) -> None:
    findings = result.findings
    if statistics:  # a log summary, not annotations
        counts = Counter((f.code, f.name) for f in findings)
        for (code, name), n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            stream.write(f"{n:>5}  {code}  {name}\n")
        return
    for f in findings:
        stream.write(line(f) + "\n")
