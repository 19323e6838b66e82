"""Lines as Python's tokenizer sees them, and what hangs off lines: code frames, `# noqa`.

`str.splitlines()` also splits on \\x0b \\x0c \\x1c \\x1d \\x1e \\x85 \\u2028 \\u2029; the tokenizer
splits only on \\n, \\r\\n and \\r. Every place that counts lines uses `split_lines`.
"""

from __future__ import annotations

import io
import re
import tokenize

FRAME_BEFORE = 1
FRAME_MAX = 4
_BREAK = re.compile(r"\r\n|\r|\n")
_BYTES_BREAK = re.compile(rb"\r\n|\r|\n")
NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+[0-9]+(?:\s*,?\s*[A-Za-z]+[0-9]+)*))?", re.I)


_OTHER_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """The lines of `text`, split where the tokenizer splits them; a trailing break gives no
    empty last line (as `str.splitlines`)."""
    if not _OTHER_BREAKS.search(text):  # the common case: str.splitlines agrees, and is fast
        return text.splitlines(keepends)
    if keepends:
        lines = []
        start = 0
        for match in _BREAK.finditer(text):
            lines.append(text[start : match.end()])
            start = match.end()
        if start < len(text):
            lines.append(text[start:])
        return lines
    lines = _BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def byte_starts(text: str) -> list[int]:
    """The UTF-8 byte offset at which each line starts (ast's columns count bytes)."""
    if text.isascii():
        return [0, *(m.end() for m in _BREAK.finditer(text))]
    return [0, *(m.end() for m in _BYTES_BREAK.finditer(text.encode("utf-8", "surrogatepass")))]


def count_breaks(text: str) -> int:
    """The line breaks in `text` (\n, \r\n, \r)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def count_lines(text: str) -> int:
    """len(split_lines(text)), without building the list."""
    return count_breaks(text) + (1 if text and not text.endswith(("\n", "\r")) else 0)


def frame(text: str, line: int, end_line: int) -> tuple[tuple[str, ...], int]:
    """The source lines a reporter shows around a finding, and the first one's number."""
    lines = split_lines(text)
    start = max(1, line - FRAME_BEFORE)
    stop = min(len(lines), max(line, min(end_line, line + FRAME_MAX - 1)))
    return tuple(lines[start - 1 : stop]), start


def noqa_lines(text: str) -> dict[int, frozenset[str]]:
    """Line -> codes a `# noqa` comment silences there (an empty set: everything)."""
    if "noqa" not in text.lower():
        return {}
    found: dict[int, frozenset[str]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type != tokenize.COMMENT:
                continue
            match = NOQA.search(tok.string)
            if match is None:
                continue
            codes = match.group("codes")
            found[tok.start[0]] = frozenset(re.findall(r"[A-Za-z]+[0-9]+", codes.upper())) if codes else frozenset()
    except (tokenize.TokenError, SyntaxError):
        pass
    return found
