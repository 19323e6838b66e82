"""Human output: `path:line:col: CODE message`, a code frame, a summary line.

Colour (`--color`): `auto` styles the report on a terminal unless NO_COLOR is set, `always`
styles it anywhere (a file, a pipe), `never` not at all. Unstyled means no ANSI code at all:
rich alone would drop the colours for NO_COLOR but keep bold and dim.
"""

from __future__ import annotations

import os
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


def plain(color: str = "auto") -> bool:
    """No styling at all: `--color never`, or `auto` with NO_COLOR set (to anything but "")."""
    return color == "never" or (color == "auto" and os.environ.get("NO_COLOR", "") != "")


def _console(stream, color: str = "auto") -> Console:
    if plain(color):
        system = None  # rich writes no ANSI code for any style
    elif color == "always":
        system = "standard"
    else:
        system = "auto"  # rich decides from the stream: a terminal or not
    return _Console(file=stream, highlight=False, soft_wrap=True, emoji=False, color_system=system,
                    no_color=False if color == "always" else None)


def render(result, stream, *, statistics: bool = False, summary: bool = True, color: str = "auto",
           unsafe_fixes: bool = False, **_: object) -> None:
    from kerascheck.fix import applicable

    console = _console(stream, color)
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
                (f.code, SEVERITY_STYLE.get(f.severity, "bold")), " ",
                ("[*] ", "cyan") if applicable(f.fix, unsafe_fixes) else "", f.message))
            if f.frame:
                _frame(console, f)
            if f.confirm:  # under its finding, before the blank line that separates findings
                c = f.confirm
                console.print(Text.assemble("  confirm: ", (str(c.get("verdict")), "bold"),
                                            f" ({c.get('seconds', 0):.1f} s): {c.get('evidence')}"))
            if f.frame:
                console.print()
    if summary:
        console.print(Text(summary_line(result), style="dim" if not findings else ""))
        hint = fix_hint(findings, unsafe_fixes)
        if hint:
            console.print(Text(hint))


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
    _related(console, f, width)


def _related(console: Console, f, width: int) -> None:
    """The finding's related places, each line with its label underlined: those in its own file,
    then those in other files, each under a `::: path:line:col` line that names the file."""
    here = [r for r in f.related if r.path is None and r.text]
    there = [r for r in f.related if r.path is not None and r.path != f.path]
    if not here and not there:
        return
    width = max(width, *(len(str(r.line)) for r in (*here, *there)))
    for r in here:
        _place(console, f, r, width)
    for r in there:
        console.print(Text.assemble((f"{'':>{width}} ::: ", "blue"), (r.path, "bold"), f":{r.line}:{r.column}",
                                    "" if r.text else f": {r.message}"))
        if r.text:
            _place(console, f, r, width)


def _place(console: Console, f, r, width: int) -> None:
    where = f"cell {r.cell}:" if r.cell is not None and r.cell != f.cell else ""
    console.print(Text.assemble((f"{where}{r.line:>{width}} | ", "blue"), r.text.expandtabs(4)))
    prefix = r.text[: r.column - 1].expandtabs(4)
    stop = r.end_column if r.end_line == r.line else len(r.text) + 1
    length = max(1, len(r.text[r.column - 1 : stop - 1].expandtabs(4)))
    console.print(Text.assemble((" " * (len(where) + width) + " | ", "blue"), " " * len(prefix),
                                ("-" * length, "cyan"), " ", r.message))


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary_line(result) -> str:
    """`All checks passed! (...)` or `Found N findings in M files (...)`, count words in number;
    after --fix, `Found N findings (F fixed, R remaining) (...)`."""
    findings = result.findings
    n, m = len(findings), len({f.path for f in findings})
    cached = getattr(result, "cached", 0)
    fixed = getattr(result, "fixed", 0)
    detail = (f"({_count(len(result.files), 'file')} checked, {result.skipped} skipped by prefilter"
              f"{f', {cached} from cache' if cached else ''}) in {result.seconds:.2f} s")
    if fixed:
        return f"Found {_count(n + fixed, 'finding')} ({fixed} fixed, {n} remaining) {detail}"
    if not n:
        return f"All checks passed! {detail}"
    return f"Found {_count(n, 'finding')} in {_count(m, 'file')} {detail}"


def fix_hint(findings, unsafe_fixes: bool = False) -> str:
    """ruff's hint: how many findings `--fix` would fix, and how many more `--unsafe-fixes` would."""
    from kerascheck.fix import applicable

    fixable = sum(applicable(f.fix, unsafe_fixes) for f in findings)
    hidden = 0 if unsafe_fixes else sum(applicable(f.fix, True) for f in findings) - fixable
    more = (f"{hidden} hidden {'fix' if hidden == 1 else 'fixes'} can be enabled with the "
            "`--unsafe-fixes` option") if hidden else ""
    if fixable:
        return f"[*] {fixable} fixable with the `--fix` option" + (f" ({more})." if more else ".")
    if hidden:
        return f"No fixes available ({more})."
    return ""
