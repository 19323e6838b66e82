"""Find the files to check: git's own list inside a work tree, a .gitignore-aware walk outside.

Inside a git work tree the list comes from git itself, one call per repository:
`git ls-files --cached --others --exclude-standard -z -- PATHS`, so nested
`.gitignore` files with `!` re-includes, `.git/info/exclude` and
`core.excludesFile` count exactly as they do for git. Tracked files count even
when a .gitignore pattern matches them (as for git); tracked files deleted
from the disk do not. A repository nested in another (a submodule, or an
untracked clone) is listed by its own git. Outside a work tree, with
`respect-gitignore = false`, or when git is not installed or fails, the
directories are walked, reading each `.gitignore` met with pathspec.

Either way kerascheck's default excludes (`.venv`, `build`, ...) and the
configured `exclude`/`extend-exclude` globs apply on top, below each directory
given. Files named on the command line are always checked, unless
`--force-exclude`: then the excludes and (in a work tree) git's ignore rules
apply to them too.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from kerascheck.config import Settings
from kerascheck.lines import split_lines

log = logging.getLogger(__name__)

DEFAULT_EXCLUDES = (".git", ".hg", ".svn", ".venv", "venv", "build", "dist", "__pycache__",
                    "node_modules", "site-packages", ".tox", ".nox", ".mypy_cache",
                    ".pytest_cache", ".ruff_cache", ".kerascheck_cache", ".eggs")
SUFFIXES = (".py", ".pyi", ".ipynb")  # notebooks: kerascheck.notebook
_STAGED = re.compile(rb"[0-7]{6} [0-9a-f]{40,64} [0-3]\Z")
GIT_TIMEOUT = 120  # seconds; ls-files on a huge repository takes well under one


class PathError(Exception):
    """A path argument that does not exist: exit 2."""


@dataclass(frozen=True)
class Target:
    path: Path  # as found (absolute)
    display: str  # as the user would type it
    problem: str | None = None  # why it cannot be checked (an unreadable directory): one KC000


def display_path(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix() or "."
    except ValueError:
        return path.as_posix()


def gitignore_spec(patterns, lenient: bool = False):
    """The patterns as one pathspec (None if there are none). An invalid pattern (`!`, a lone
    `\\`) raises ValueError, unless `lenient` (a .gitignore file: git skips such lines too)."""
    patterns = [p for p in patterns if p.strip()]
    if not patterns:
        return None
    import pathspec  # only when there is a pattern to match: start-up stays lean

    # The same patterns, last match wins; named "gitignore" from pathspec 1.0 (the old name warns).
    # Not GitIgnoreSpec: it keeps `dir/` ignored after `*` and `!*/`, which git does not.
    factory = "gitignore" if int(pathspec.__version__.split(".")[0]) >= 1 else "gitwildmatch"
    try:
        return pathspec.PathSpec.from_lines(factory, patterns)
    except ValueError:
        if not lenient:
            raise
    return gitignore_spec([p for p in patterns if _valid(factory, p)]) if lenient else None


def _valid(factory: str, pattern: str) -> bool:
    import pathspec

    try:
        pathspec.PathSpec.from_lines(factory, [pattern])
    except ValueError:
        return False
    return True


def _verdict(spec, rel: str) -> bool | None:
    """True: `spec` ignores `rel`; False: it re-includes it (`!`); None: no pattern in it matches."""
    verdict = None
    for pattern in spec.patterns:
        if pattern.include is not None and pattern.match_file(rel) is not None:
            verdict = pattern.include
    return verdict


class _Ignores:
    """The configured excludes, and for the walk the .gitignore files met on the way down."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.root
        self.root_prefix = os.path.join(str(settings.root), "")  # with a trailing separator
        self.excludes = gitignore_spec([*settings.exclude, *settings.extend_exclude])
        self.cache: dict[Path, object] = {}

    def gitignore(self, directory: Path):
        if directory not in self.cache:
            spec = None
            try:
                with open(directory / ".gitignore", encoding="utf-8", errors="replace") as fh:
                    spec = gitignore_spec(split_lines(fh.read()), lenient=True)
            except OSError:
                pass
            self.cache[directory] = spec
        return self.cache[directory]

    def configured(self, path: Path | str, is_dir: bool) -> bool:
        """Do the configured excludes match `path` (absolute), relative to the root or by its name?"""
        if self.excludes is None:
            return False
        path = str(path)
        name = path.rsplit(os.sep, 1)[-1]
        rel = path[len(self.root_prefix):] if path.startswith(self.root_prefix) else name
        slash = "/" if is_dir else ""
        if os.sep != "/":
            rel = rel.replace(os.sep, "/")
        return self.excludes.match_file(rel + slash) or self.excludes.match_file(name + slash)

    def covers(self, base: Path, root: Path) -> bool:
        """Does `base`'s .gitignore ignore the explicitly given directory `root`?

        Then the user asked for it anyway, so that .gitignore is not applied below it
        (the walk only; in a work tree git decides).
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
        # As in git, the deepest .gitignore that has a say decides (a `!` there re-includes).
        for base in reversed(chain):
            spec = self.gitignore(base)
            if spec is not None:
                verdict = _verdict(spec, path.relative_to(base).as_posix() + ("/" if is_dir else ""))
                if verdict is not None:
                    return verdict
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


def _repo_top(directory: Path) -> Path | None:
    """The nearest folder at or above `directory` (a real path) holding a `.git`, or None.

    A stat per level instead of `git rev-parse`: outside a repository no git runs at all.
    If this is not the work tree git itself finds, git's names are still relative to it
    (ls-files prints them relative to its working directory), and a failing git falls back
    to the walk."""
    for folder in (directory, *directory.parents):
        if os.path.lexists(folder / ".git"):
            return folder
    return None


@dataclass
class _Repo:
    """What to ask one repository's git: directories to list and (with --force-exclude) files."""

    top: Path
    dirs: list[tuple[Path, Path]] = field(default_factory=list)  # (as given, real path)
    files: list[tuple[Path, Path]] = field(default_factory=list)


@dataclass(frozen=True)
class _Under:
    """A directory given on the command line: its path with a trailing separator, and its
    display prefix (`""` for the current directory, else `dir/`)."""

    path: str
    shown: str


_UNOPENED = re.compile(rb"^warning: could not open directory '(.*?)/?': (.*)$", re.M)


def unopened(stderr: bytes) -> list[tuple[str, str]]:
    """The directories `git ls-files` warns it could not open (it lists the rest and exits 0):
    (path relative to the work tree, reason)."""
    return [(os.fsdecode(m.group(1)), m.group(2).decode("utf-8", "replace").strip())
            for m in _UNOPENED.finditer(stderr)]


class _Finder:
    def __init__(self, settings: Settings, cwd: Path) -> None:
        self.settings = settings
        self.cwd = cwd
        self.ignores = _Ignores(settings)
        self.found: dict[Path, Target] = {}
        self.repos: dict[Path, _Repo] = {}
        self.use_git = settings.respect_gitignore
        self.excluded_dirs: dict[str, bool] = {}
        self.tried: set[Path] = set()  # repositories git listed, or failed to

    def add(self, path: Path, display: str | None = None, problem: str | None = None) -> None:
        if path not in self.found:
            self.found[path] = Target(path, display if display is not None else display_path(path, self.cwd),
                                      problem)

    def repo(self, top: Path) -> _Repo:
        return self.repos.setdefault(top, _Repo(top))

    # ---------------------------------------------------------------- arguments

    def directory(self, path: Path) -> None:
        real = Path(os.path.realpath(path))
        top = _repo_top(real) if self.use_git else None
        if top is None:
            self.walk(path)
        else:
            self.repo(top).dirs.append((path, real))

    def file(self, path: Path) -> None:
        """A file named on the command line: always checked, unless --force-exclude."""
        if not self.settings.force_exclude:
            self.add(path)
            return
        if self.ignores.configured(path, False) or self.default_excluded(path):
            return
        if self.use_git:
            real_parent = Path(os.path.realpath(path.parent))
            top = _repo_top(real_parent)
            if top is not None:
                self.repo(top).files.append((path, real_parent / path.name))
                return
        self.file_walk_mode(path)

    def file_walk_mode(self, path: Path) -> None:
        if not self.ignores.ignored(path, False, _git_chain(path.parent)):
            self.add(path)

    def default_excluded(self, path: Path) -> bool:
        """A default-excluded folder between the project (or the current directory) and the file."""
        for base in (self.settings.root, self.cwd):
            try:
                parts = path.parent.relative_to(base).parts
            except ValueError:
                continue
            return any(part in DEFAULT_EXCLUDES for part in parts)
        return False

    # ---------------------------------------------------------------- git

    def run_git(self) -> None:
        """One `git ls-files` per repository; nested repositories found meanwhile are queued."""
        while self.repos:
            top = next(iter(self.repos))
            self.list_repo(self.repos.pop(top))

    def list_repo(self, repo: _Repo) -> None:
        self.tried.add(repo.top)
        specs = [os.path.relpath(real, repo.top) for _, real in (*repo.dirs, *repo.files)]
        entries = self.ls_files(repo.top, specs)
        if entries is None:  # no git, or git refuses this tree: the walk still honours .gitignore
            for path, _ in repo.dirs:
                self.walk(path)
            for path, _ in repo.files:
                self.file_walk_mode(path)
            return
        for path, real in repo.files:
            if os.path.relpath(real, repo.top).replace(os.sep, "/") in entries:
                self.add(path)
        for path, real in repo.dirs:
            prefix = "" if real == repo.top else os.path.relpath(real, repo.top).replace(os.sep, "/") + "/"
            shown = display_path(path, self.cwd)
            under = _Under(os.path.join(str(path), ""), "" if shown == "." else shown + "/")
            names = [(name, is_repo) for name, is_repo in entries.items() if name.startswith(prefix)]
            if not names and prefix:
                # Nothing git lists below a directory given on the command line: it may be one git
                # ignores (a virtualenv's site-packages in a git-managed ~/.pyenv). The user asked for
                # it, as ruff honours: walk it, with the .gitignore files inside it.
                self.walk(path)
                continue
            for name, is_repo in names:
                if is_repo or name.endswith(SUFFIXES):
                    self.listed(under, name[len(prefix):], is_repo)

    def listed(self, under: _Under, rel: str, is_repo: bool) -> None:
        """A Python file or a nested repository git listed below a directory given, relative to it.

        Strings, not Paths, on this path: it runs once per file of the repository."""
        parts = rel.split("/")
        if any(part in DEFAULT_EXCLUDES for part in parts[:-1]):
            return
        full = under.path + rel if os.sep == "/" else under.path + rel.replace("/", os.sep)
        if self.dir_excluded(under.path, parts):
            return
        if is_repo:  # a submodule or an untracked clone: its own git lists it
            if parts[-1] in DEFAULT_EXCLUDES or self.ignores.configured(full, True):
                return
            real = Path(os.path.realpath(full))
            # A submodule that is not checked out has no .git: nothing to list.
            if os.path.lexists(real / ".git") and real not in self.tried:
                self.repo(real).dirs.append((Path(full), real))
            return
        if not os.path.lexists(full):  # tracked but deleted from the disk
            return
        if self.ignores.configured(full, False):
            return
        self.add(Path(full), under.shown + rel)

    def dir_excluded(self, base: str, parts: list[str]) -> bool:
        """Is a folder between the directory given (`base`, not itself tested) and a file excluded
        by the configured globs?"""
        if self.ignores.excludes is None:
            return False
        directory = base.rstrip(os.sep)
        for part in parts[:-1]:
            directory = directory + os.sep + part
            excluded = self.excluded_dirs.get(directory)
            if excluded is None:
                excluded = self.excluded_dirs[directory] = self.ignores.configured(directory, True)
            if excluded:
                return True
        return False

    def ls_files(self, top: Path, specs: list[str]) -> dict[str, bool] | None:
        """git's names below `top` (relative, `/`-separated), each with whether it is a repository."""
        # --stage gives the mode of tracked entries, so a submodule (mode 160000) is known without a
        # stat per name; untracked names come plain, an untracked repository with a trailing `/`.
        cmd = ["git", "--literal-pathspecs", "ls-files", "-z", "--stage", "--cached", "--others",
               "--exclude-standard", "--", *specs]
        try:
            proc = subprocess.run(cmd, cwd=top, capture_output=True, timeout=GIT_TIMEOUT)
        except FileNotFoundError:
            log.debug("no git executable: walking the directories")
            self.use_git = False
            return None
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.debug("git ls-files in %s failed (%s): walking it", top, exc)
            return None
        if proc.returncode != 0:
            log.debug("git ls-files in %s failed: %s", top, proc.stderr.decode(errors="replace").strip())
            return None
        for name, reason in unopened(proc.stderr):
            self.add(top / name, problem=f"cannot list this directory: {reason.lower()}")
        entries: dict[str, bool] = {}  # a path in a merge conflict is listed once per stage
        for raw in proc.stdout.split(b"\0"):
            head, tab, tail = raw.partition(b"\t")
            if tab and _STAGED.match(head):  # "<mode> <object> <stage>\t<path>"
                entries[os.fsdecode(tail)] = head.startswith(b"160000 ")
            elif raw:
                name = os.fsdecode(raw)
                entries[name.rstrip("/")] = name.endswith("/")
        return entries

    # ---------------------------------------------------------------- walk

    def walk(self, path: Path) -> None:
        chain = [base for base in _git_chain(path) if not self.ignores.covers(base, path)]
        self._walk(path, chain)

    def _walk(self, directory: Path, chain: list[Path]) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except FileNotFoundError:  # gone meanwhile
            return
        except OSError as exc:  # reported, never skipped in silence
            self.add(directory, problem=f"cannot list this directory: {_reason(exc)}")
            return
        if self.use_git and any(e.name == ".git" for e in entries):  # a repository below a plain folder
            real = Path(os.path.realpath(directory))
            if real not in self.tried:
                self.repo(real).dirs.append((directory, real))
                return
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                if entry.name in DEFAULT_EXCLUDES or self.ignores.ignored(path, True, chain):
                    continue
                self._walk(path, [*chain, path])
            elif entry.name.endswith(SUFFIXES):
                # Symlinked files are included; a loop or a dangling link becomes KC000 on read.
                if self.ignores.ignored(path, False, chain):
                    continue
                self.add(path)


def _reason(exc: OSError) -> str:
    """`permission denied`, as KC000 messages say it."""
    return (exc.strerror or str(exc)).lower()


def force_excluded(path: Path, settings: Settings, cwd: Path | None = None) -> bool:
    """Whether --force-exclude keeps `path` from being checked by the configured excludes or a
    default-excluded folder (for a file that may not exist, e.g. --stdin-filename's NAME)."""
    if not settings.force_exclude:
        return False
    finder = _Finder(settings, cwd or Path.cwd())
    path = Path(os.path.normpath(path if path.is_absolute() else finder.cwd / path))
    return finder.ignores.configured(path, False) or finder.default_excluded(path)


def discover(paths: tuple[str, ...], settings: Settings, cwd: Path | None = None) -> list[Target]:
    finder = _Finder(settings, cwd or Path.cwd())
    for raw in paths:
        given = Path(raw)
        path = given if given.is_absolute() else finder.cwd / given
        try:
            os.lstat(path)
        except PermissionError as exc:  # in a directory we may not search: reported, not dropped
            finder.add(Path(os.path.normpath(path)), problem=_reason(exc))
            continue
        except OSError:
            raise PathError(f"path does not exist: {raw}") from None
        path = Path(os.path.normpath(path))
        if path.is_dir():
            finder.directory(path)
        else:
            finder.file(path)
    finder.run_git()
    return sorted(finder.found.values(), key=lambda t: t.display)
