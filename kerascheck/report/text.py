"""Human output: `path:line:col: CODE message`, a code frame, a summary line."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.text import Text

from kerascheck.finding import printable_path

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold blue"}


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich's own handler exits 1 and points stdout at /dev/null whichever stream broke;
        # the CLI decides instead (the exit code still says whether there were findings).
        self.quiet = True
        raise BrokenPipeError


def _console(stream) -> Console:
    # rich decides colour from the stream (a terminal or not) and NO_COLOR.
    return _Console(file=stream, highlight=False, soft_wrap=True, emoji=False)


def render(result, stream, *, statistics: bool = False, **_: object) -> None:
    console = _console(stream)
    findings = result.findings
    if statistics:
        counts = Counter((f.code, f.name) for f in findings)
        for (code, name), n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            console.print(Text.assemble((f"{n:>5}", "bold"), "  ", (code, "red"), "  ", name))
    else:
        for f in findings:
            console.print(Text.assemble(
                (printable_path(f.path), "bold"), ":", f"cell {f.cell}:" if f.cell is not None else "",
                str(f.line), ":", str(f.column), ": ",
                (f.code, SEVERITY_STYLE.get(f.severity, "bold")), " ", f.message))
            if f.frame:
                _frame(console, f)
            if f.confirm:
                c = f.confirm
                console.print(Text.assemble("  confirm: ", (str(c.get("verdict")), "bold"),
                                            f" ({c.get('seconds', 0):.1f} s): {c.get('evidence')}"))
    console.print(Text(summary(result), style="dim" if not findings else ""))


def _frame(console: Console, f) -> None:
    width = len(str(f.frame_start + len(f.frame)))
    for offset, line in enumerate(f.frame):
        number = f.frame_start + offset
        console.print(Text.assemble((f"{number:>{width}} | ", "blue"), line.expandtabs(4)))
        if number == f.line:
            prefix = line[: f.column - 1].expandtabs(4)
            stop = f.end_column if f.end_line == f.line else len(line) + 1
            length = max(1, len(line[f.column - 1 : stop - 1].expandtabs(4)))
            console.print(Text.assemble((" " * width + " | ", "blue"), " " * len(prefix),
                                        ("^" * length, SEVERITY_STYLE.get(f.severity, "bold"))))
    console.print()


def summary(result) -> str:
    findings = result.findings
    n, m = len(findings), len({f.path for f in findings})
    return (f"Found {n} finding{'s' if n != 1 else ''} in {m} file{'s' if m != 1 else ''} "
            f"({len(result.files)} files checked, {result.skipped} skipped by prefilter"
            f"{f', {result.cached} from cache' if getattr(result, 'cached', 0) else ''}) "
            f"in {result.seconds:.2f} s")
