"""Writing a file whole: a report, a baseline, a fixed source file. Nothing half-written is ever
left behind."""

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


def replace_file(path: str | os.PathLike, data: bytes, expect: bytes | None = None) -> None:
    """Replace the file at `path` with `data` whole: a temporary file in the same folder, then
    a rename, so a reader sees the old bytes or the new, never half. The file keeps its mode
    (and, where allowed, its owner); through a symlink, the file it points to is replaced and
    the link kept. With `expect`, a file whose bytes are no longer those (changed by someone
    else since they were read) is left alone: ValueError."""
    target = Path(os.path.realpath(path))
    before = os.stat(target)
    if not stat.S_ISREG(before.st_mode):
        raise ValueError("not a regular file")
    if expect is not None and target.read_bytes() != expect:
        raise ValueError("the file changed while it was being fixed")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".kerascheck", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, stat.S_IMODE(before.st_mode))
        if hasattr(os, "chown") and (before.st_uid, before.st_gid) != (os.getuid(), os.getgid()):
            try:
                os.chown(tmp, before.st_uid, before.st_gid)
            except PermissionError:  # not ours to give away: the new file is the writer's
                pass
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
