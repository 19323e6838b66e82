"""Read a file once: bytes, guards, decoding and the cheap prefilter.

Nothing here parses Python. A file that cannot be read or decoded raises
`Unreadable`, which the engine turns into one KC000 finding.
"""

from __future__ import annotations

import codecs
import errno
import io
import os
import stat
import re
import tokenize
from pathlib import Path


class Unreadable(Exception):
    """A file kerascheck cannot read, decode or parse; becomes one KC000 finding."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def read_bytes(path: Path) -> bytes:
    try:
        # A FIFO or device named *.py would block or never end: read regular files only.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise Unreadable("not a regular file")
        return path.read_bytes()
    except FileNotFoundError:
        raise Unreadable("file vanished before it could be read (or is a broken symlink)") from None
    except PermissionError:
        raise Unreadable("permission denied") from None
    except IsADirectoryError:
        raise Unreadable("is a directory, not a file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Unreadable("symlink loop") from None
        raise Unreadable(f"cannot read file: {exc.strerror or exc}") from None


def _line_col(data: bytes, offset: int) -> tuple[int, int]:
    """The line and column of byte `offset`, lines broken where Python's tokenizer breaks them
    (\n, \r\n, \r: kerascheck.lines)."""
    line = data.count(b"\n", 0, offset) + data.count(b"\r", 0, offset) - data.count(b"\r\n", 0, offset) + 1
    start = max(data.rfind(b"\n", 0, offset), data.rfind(b"\r", 0, offset)) + 1
    column = len(data[start:offset].decode("utf-8", "replace")) + 1
    return line, column


def decode(data: bytes) -> str:
    """Bytes to text, honouring a BOM and a PEP 263 coding cookie."""
    nul = data.find(b"\x00")
    if nul != -1:
        raise Unreadable("file contains a NUL byte", *_line_col(data, nul))
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise Unreadable(f"bad encoding declaration: {exc}") from None
    try:
        if not codecs.lookup(encoding)._is_text_encoding:  # `# coding: hex`, `rot13`, `zlib`
            raise Unreadable(f"the coding cookie names {encoding!r}, which is not a text encoding")
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line, column = _line_col(data, exc.start)
        raise Unreadable(f"invalid {encoding} byte 0x{data[exc.start]:02x}", line, column) from None
    except LookupError:
        raise Unreadable(f"unknown encoding {encoding!r}") from None
    except Unreadable:
        raise
    except Exception as exc:  # noqa: BLE001 - any codec's own failure (`undefined`, `idna`, `punycode`)
        raise Unreadable(f"cannot decode the file as {encoding}: {exc}") from None


_FILE_NOQA = re.compile(rb"^[ \t]*#[ \t]*kerascheck:[ \t]*noqa(?::[ \t]*(?P<codes>[A-Z0-9, \t]+))?[ \t]*$", re.M)


def file_noqa(data: bytes) -> frozenset[str] | None:
    """Codes silenced by a file-level `# kerascheck: noqa[: KC001]` comment.

    Returns None when there is no such comment and an empty set when the
    whole file is silenced.
    """
    if b"kerascheck:" not in data:
        return None
    codes: set[str] = set()
    found = False
    for match in _FILE_NOQA.finditer(data):
        found = True
        if match.group("codes") is None:
            return frozenset()
        codes.update(c.strip() for c in match.group("codes").decode().replace(",", " ").split())
    return frozenset(codes) if found else None
