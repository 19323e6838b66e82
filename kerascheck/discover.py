"""Find the Python files to check: .gitignore, default and configured excludes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kerascheck.config import Settings

DEFAULT_EXCLUDES = (".git", ".hg", ".svn", ".venv", "venv", "build", "dist", "__pycache__",
                    "node_modules", "site-packages", ".tox", ".nox", ".mypy_cache",
                    ".pytest_cache", ".ruff_cache", ".kerascheck_cache", ".eggs")
SUFFIXES = (".py", ".pyi", ".ipynb")  # notebooks: kerascheck.notebook


class PathError(Exception):
    """A path argument that does not exist: exit 2."""


@dataclass(frozen=True)
class Target:
    path: Path  # as found (absolute)
    display: str  # as the user would type it


def display_path(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix() or "."
    except ValueError:
        return path.as_posix()


def _spec(patterns):
    patterns = [p for p in patterns if p.strip()]
    if not patterns:
        return None
    import pathspec  # only when there is a pattern to match: start-up stays lean

    return pathspec.PathSpec.from_lines("gitwildmatch", patterns)


class _Ignores:
    """.gitignore files met on the way down, each relative to its directory."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.root
        self.excludes = _spec([*settings.exclude, *settings.extend_exclude])
        self.cache: dict[Path, object] = {}

    def gitignore(self, directory: Path):
        if directory not in self.cache:
            spec = None
            try:
                with open(directory / ".gitignore", encoding="utf-8", errors="replace") as fh:
                    spec = _spec(fh.read().splitlines())
            except OSError:
                pass
            self.cache[directory] = spec
        return self.cache[directory]

    def configured(self, path: Path, is_dir: bool) -> bool:
        if self.excludes is None:
            return False
        try:
            rel = path.relative_to(self.root).as_posix()
        except ValueError:
            rel = path.name
        return self.excludes.match_file(rel + ("/" if is_dir else "")) or self.excludes.match_file(path.name + ("/" if is_dir else ""))

    def covers(self, base: Path, root: Path) -> bool:
        """Does `base`'s .gitignore ignore the explicitly given directory `root`?

        Then the user asked for it anyway (like ruff, an explicit path wins),
        so that .gitignore is not applied below it.
        """
        if base == root:
            return False
        spec = self.gitignore(base)
        return spec is not None and spec.match_file(root.relative_to(base).as_posix() + "/")

    def ignored(self, path: Path, is_dir: bool, chain: list[Path]) -> bool:
        if self.configured(path, is_dir):
            return True
        if not self.settings.respect_gitignore:
            return False
        for base in chain:
            spec = self.gitignore(base)
            if spec is not None:
                rel = path.relative_to(base).as_posix() + ("/" if is_dir else "")
                if spec.match_file(rel):
                    return True
        return False


def _git_chain(directory: Path) -> list[Path]:
    """Ancestors of `directory` up to its repository root (or filesystem root)."""
    chain = [directory]
    for parent in directory.parents:
        chain.append(parent)
        if (parent / ".git").exists():
            break
    else:
        return [directory]  # outside a repository only the walked tree's own .gitignore files count
    return list(reversed(chain))


def discover(paths: tuple[str, ...], settings: Settings, cwd: Path | None = None) -> list[Target]:
    cwd = cwd or Path.cwd()
    ignores = _Ignores(settings)
    found: dict[Path, Target] = {}
    for raw in paths:
        given = Path(raw)
        path = given if given.is_absolute() else cwd / given
        if not os.path.lexists(path):
            raise PathError(f"path does not exist: {raw}")
        path = Path(os.path.normpath(path))
        if path.is_dir():
            chain = [base for base in _git_chain(path) if not ignores.covers(base, path)]
            _walk(path, chain, ignores, found, cwd)
        else:
            # Explicit files are always checked, unless --force-exclude asks otherwise.
            if settings.force_exclude and ignores.ignored(path, False, _git_chain(path.parent)):
                continue
            if settings.force_exclude and any(part in DEFAULT_EXCLUDES for part in path.parts[:-1]):
                continue
            found.setdefault(path, Target(path, display_path(path, cwd)))
    return sorted(found.values(), key=lambda t: t.display)


def _walk(directory: Path, chain: list[Path], ignores: _Ignores, found: dict, cwd: Path) -> None:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            if entry.name in DEFAULT_EXCLUDES or ignores.ignored(path, True, chain):
                continue
            _walk(path, [*chain, path], ignores, found, cwd)
        elif entry.name.endswith(SUFFIXES):
            # Symlinked files are included; a loop or a dangling link becomes KC000 on read.
            if ignores.ignored(path, False, chain):
                continue
            found.setdefault(path, Target(path, display_path(path, cwd)))
