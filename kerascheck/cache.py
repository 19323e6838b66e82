"""The result cache: a file that was checked before, with the same text and
the same effective settings, is not parsed again.

Layout (like ruff's): `<root>/.kerascheck_cache/` holds a `.gitignore` with
`*` and a `CACHEDIR.TAG`; below it, one JSON file per kerascheck version and
settings key: `<version>/<settings key>.json`, mapping each file's path
(relative to the root) to `[digest, findings]`.

- The settings key hashes what every file is checked with: the kerascheck
  version and a fingerprint of its code and rules (so an edited rule in a
  development install is not served stale results), the Python version, the
  enabled rules, their options and the limits (max-lines, max-bytes).
- A file's digest hashes its text and what applies to it alone: the rules
  that survived its per-file ignores, file-level noqa and the prefilter, and
  (for notebooks) its cell boundaries.
- Files the prefilter skips are never looked up or stored: the substring
  check that skips them costs less than hashing them would.

Only the main process reads and writes the cache (workers return results to
it), and a write goes to a temporary file that is renamed into place, so a
reader never sees half a file; two concurrent runs at worst lose each
other's new entries. A cache file that cannot be read or decoded is ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import stat
import sys
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from kerascheck import __version__
from kerascheck.finding import FileResult, Finding, Related
from kerascheck.rule import Rule

if TYPE_CHECKING:
    from kerascheck.engine import Plan, _Work

log = logging.getLogger(__name__)

DIRNAME = ".kerascheck_cache"
FORMAT = 1
KEEP_KEYS = 8  # settings files kept per version; older ones are pruned
MAX_BYTES = 256 * 1024 * 1024  # a cache file larger than this is not read (about 1.5 million files)
MAX_SUMMARIES = 50_000  # project index summaries kept (by content digest) before starting afresh
CACHEDIR_TAG = ("Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by kerascheck.\n")


def _code_fingerprint() -> str:
    """Names, sizes and mtimes of kerascheck's and its rules' modules: cheap to stat."""
    import kerascheck.rules as rules

    h = hashlib.blake2b(digest_size=12)
    for package in (Path(__file__).parent, Path(rules.__file__).parent):
        for path in sorted(package.rglob("*.py")):
            try:
                st = path.stat()
            except OSError:
                continue
            h.update(f"{path.relative_to(package)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


# Settings that only choose which files are checked, or guard the run, not what a file's check
# finds (a file that hit a time or memory limit is never cached).
_DISCOVERY_ONLY = frozenset({"root", "jobs", "exclude", "extend_exclude",
                             "force_exclude", "respect_gitignore", "file_timeout", "file_memory"})


def _plain(value: Any) -> Any:
    """Something json.dumps can hash stably: rules by code, sets sorted."""
    if isinstance(value, Rule):
        return value.code
    if isinstance(value, (set, frozenset)):
        return sorted(map(repr, value))
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def settings_key(plan: Plan) -> str:
    """Everything every file is checked with. Settings fields are taken generically (minus
    those that only choose files), so a setting added later invalidates without a change here."""
    settings = {f.name: _plain(getattr(plan.settings, f.name)) for f in fields(plan.settings)
                if f.name not in _DISCOVERY_ONLY}
    parts = {
        "format": FORMAT,
        "version": __version__,
        "code": _code_fingerprint(),
        "python": list(sys.version_info[:2]),
        "rules": [r.code for r in plan.rules],
        "kc000": plan.kc000,
        "options": _plain(plan.options),
        "settings": settings,
    }
    blob = json.dumps(parts, sort_keys=True, default=repr).encode()
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


def digest(work: _Work) -> str:
    """A file's text and everything its check depends on that is particular to it (the rules
    left after its per-file ignores and the prefilter, notebook cells, ...): every field of
    the work item, so a field added later is part of the key without a change here."""
    h = hashlib.blake2b(work.text.encode("utf-8", "surrogatepass"), digest_size=16)
    rest = {f.name: _plain(getattr(work, f.name)) for f in fields(work)
            if f.name not in ("display", "path", "text", "project", "parse_cache")}
    h.update(json.dumps(rest, sort_keys=True, default=repr).encode())
    return h.hexdigest()


def _dump(finding: Finding) -> dict[str, Any]:
    data = {f.name: getattr(finding, f.name) for f in fields(finding) if f.name != "path"}
    data["frame"] = list(finding.frame)
    data["related"] = [{f.name: getattr(r, f.name) for f in fields(r)} for r in finding.related]
    return data


def _load(data: dict[str, Any], display: str) -> Finding:
    related = tuple(Related(**r) for r in data.get("related", ()))
    return Finding(**{**data, "path": display, "frame": tuple(data.get("frame", ())), "related": related})


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of `path` if it is a regular file (through symlinks) of at most `limit` bytes.

    Opened non-blocking, so a FIFO put in its place cannot hang the run, and checked before
    reading, so `/dev/zero` or `/dev/urandom` cannot fill the memory."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"not a regular file: {path}")
        if info.st_size > limit:
            raise OSError(f"larger than {limit} bytes: {path}")
        chunks = []
        size = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:  # it grew while being read
                raise OSError(f"larger than {limit} bytes: {path}")
            chunks.append(chunk)
    finally:
        os.close(fd)


class Cache:
    """One run's view of the cache file for its settings key."""

    def __init__(self, root: Path, plan: Plan) -> None:
        self.root = root
        self.dir = root / DIRNAME
        self.file = self.dir / __version__ / f"{settings_key(plan)}.json"
        self.entries, self.summaries = self._read()
        self.new: dict[str, list] = {}
        self.new_summaries: dict[str, dict] = {}

    def _read(self) -> tuple[dict[str, list], dict[str, dict]]:
        """The files' entries, and the project index's module summaries (by content digest)."""
        try:
            data = json.loads(_read_regular(self.file, MAX_BYTES))
        except FileNotFoundError:
            return {}, {}
        except (OSError, ValueError, RecursionError, MemoryError) as exc:
            # Whatever is there (a device, a FIFO, a huge file, `[` * 100000): no cache.
            log.debug("ignoring unreadable cache %s: %s", self.file, exc)
            return {}, {}
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("files"), dict):
            log.debug("ignoring cache %s: unexpected structure", self.file)
            return {}, {}
        summaries = data.get("summaries")
        return data["files"], summaries if isinstance(summaries, dict) else {}

    def summaries_made(self, summaries: dict[str, dict]) -> None:
        """Module summaries the run's project index made: saved with the files' entries."""
        self.new_summaries.update(summaries)

    def _key(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def lookup(self, work: _Work) -> FileResult | None:
        key = self._key(work.path)
        entry = self.entries.get(key)
        if not isinstance(entry, list) or len(entry) != 2 or entry[0] != digest(work):
            return None
        try:
            findings = tuple(_load(d, work.display) for d in entry[1])
        except Exception as exc:  # a corrupt or foreign entry is a miss, never a crash
            log.debug("ignoring cache entry for %s: %s", key, exc)
            return None
        return FileResult(work.display, findings, cached=True)

    def store(self, work: _Work, result: FileResult) -> None:
        self.new[self._key(work.path)] = [digest(work), [_dump(f) for f in result.findings]]

    def save(self) -> None:
        """Merge this run's entries into the file on disk, atomically; never raises."""
        if not self.new and not self.new_summaries:
            return
        try:
            self._prepare_dir()
            entries, summaries = self._read()  # pick up what a concurrent run wrote meanwhile
            entries.update(self.new)
            if len(summaries) + len(self.new_summaries) > MAX_SUMMARIES:
                summaries = {}  # old summaries are only a head start: start again
            summaries.update(self.new_summaries)
            # ASCII: a file name that is not UTF-8 (a lone surrogate in Python) stays a valid escape.
            blob = json.dumps({"format": FORMAT, "files": entries, "summaries": summaries},
                              separators=(",", ":")).encode("ascii")
            # Not mkstemp: its 0600 mode would ignore the umask a shared CI cache relies on.
            tmp = self.file.parent / f".tmp-{os.getpid()}-{secrets.token_hex(4)}.part"
            try:
                with open(tmp, "xb") as fh:
                    fh.write(blob)
                os.replace(tmp, self.file)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
            self._prune()
        except (OSError, TypeError, ValueError) as exc:
            log.warning("could not write the cache in %s: %s", self.dir, exc)

    def _prepare_dir(self) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        for name, text in ((".gitignore", "# Automatically created by kerascheck.\n*\n"),
                           ("CACHEDIR.TAG", CACHEDIR_TAG)):
            path = self.dir / name
            if not path.exists():
                try:
                    with open(path, "x", encoding="utf-8") as fh:
                        fh.write(text)
                except FileExistsError:
                    pass

    def _prune(self) -> None:
        try:
            files = sorted(self.file.parent.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
            for old in files[KEEP_KEYS:]:
                old.unlink()
        except OSError:
            pass
