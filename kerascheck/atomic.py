"""Writing a file whole: a report, a baseline. Nothing half-written is ever left behind."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def output(path: str | None):
    """stdout, or `path` (written whole on success, so a failed run leaves no half report).

    A regular file is replaced atomically (through a symlink: the file it points to). Anything
    else that exists (`/dev/null`, `/dev/stdout`, a FIFO) is written in place: renaming a
    temporary file over it would put a regular file where the device was."""
    if path is None:
        yield sys.stdout
        return
    try:
        special = not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:  # missing (created below), or an error the write below reports
        special = False
    if special:
        with open(path, "w", encoding="utf-8", newline="\n") as stream:
            yield stream
        return
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as stream:
            yield stream
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would surprise whoever reads the report
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
