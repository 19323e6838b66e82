"""KC100, `check --report-unused-noqa`: `# noqa: KCnnn` comments that silenced nothing.

Only kerascheck's own codes are judged: `# noqa: E501` belongs to another tool
and a bare `# noqa` may too. A code whose rule is not enabled for the file
(select, ignore, per-file-ignores, a file-level noqa) is left alone, since
another configuration may need it; an unknown code is always unused. The
engine calls this only when the flag is on, for files that contain "noqa".
"""

from __future__ import annotations

import io
import re
import tokenize

from kerascheck.finding import Finding
from kerascheck.lines import NOQA as _NOQA
from kerascheck.lines import frame as _frame
from kerascheck.registry import KC000, KC100

_CODE = re.compile(r"[A-Za-z]+[0-9]+")


def not_judged(known: frozenset[str], enabled: set[str], kc000: bool, ignored: frozenset[str]) -> frozenset[str] | None:
    """Known codes whose rules do not run on this file; None when KC100 itself is off here."""
    if KC100.code in ignored:
        return None
    active = {c for c in enabled if c not in ignored}
    if kc000 and KC000.code not in ignored:
        active.add(KC000.code)
    return known - active


def findings(text: str, display: str, used: set[tuple[int, str]], skip: frozenset[str]) -> list[Finding]:
    """One KC100 finding per noqa comment that names a kerascheck code which silenced nothing."""
    out = []
    for line, start, end, codes in _comments(text):
        if KC100.code in codes:  # a noqa that names KC100 itself is kept as it is
            continue
        unused = [c for c in codes if c.startswith("KC") and c not in skip and (line, c) not in used]
        if not unused:
            continue
        frame, frame_start = _frame(text, line, line)
        listed = ", ".join(unused)
        out.append(Finding(KC100.code, KC100.name, KC100.message.format(codes=listed), display,
                           line, start + 1, line, end + 1, KC100.severity,
                           frame=frame, frame_start=frame_start, snippet=f"#noqa:{listed}"))
    return out


def _comments(text: str) -> list[tuple[int, int, int, tuple[str, ...]]]:
    """(line, start column, end column, codes) of each `# noqa: CODES` comment; columns 0-based."""
    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type != tokenize.COMMENT:
                continue
            match = _NOQA.search(tok.string)
            if match is None or not match.group("codes"):
                continue
            codes = tuple(dict.fromkeys(c.upper() for c in _CODE.findall(match.group("codes"))))
            line, column = tok.start
            found.append((line, column + match.start(), column + match.end(), codes))
    except (tokenize.TokenError, SyntaxError):
        pass  # the file does not tokenize; other checks report that
    return found
