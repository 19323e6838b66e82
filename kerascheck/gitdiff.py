"""`--changed-since REF`: only the files changed since a git ref, for CI on pull requests.

Changed means: committed since the merge base of REF and HEAD (what a pull
request against REF changes, like `git diff REF...HEAD`), staged, unstaged,
or untracked and not ignored. Deleted files are left out. The discovered
targets are filtered by this set, so excludes, .gitignore and the PATHS
given still apply. git is run as a subprocess; nothing is written.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from kerascheck.discover import Target


class GitError(Exception):
    """No repository, no git or an unknown ref: exit 2 with this one line."""


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=120)
    except FileNotFoundError:
        raise GitError("--changed-since needs git, and no `git` executable was found") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} did not finish in 120 s") from None


def _names(out: bytes, top: str) -> set[str]:
    return {os.path.realpath(os.path.join(top, os.fsdecode(name))) for name in out.split(b"\0") if name}


def changed_files(ref: str, start: Path) -> set[str]:
    """Real paths of the files changed since `ref` in the repository holding `start`."""
    start = start.resolve()
    start = start if start.is_dir() else start.parent
    top = _git(["rev-parse", "--show-toplevel"], start)
    if top.returncode != 0:
        raise GitError(f"--changed-since needs a git repository, and {start} is not inside one")
    root = Path(os.fsdecode(top.stdout.strip()))
    if not ref or ref.startswith("-"):
        raise GitError(f"unknown git ref: {ref!r}")
    found = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root)
    if found.returncode != 0:
        raise GitError(f"unknown git ref: {ref!r} (is it fetched? CI checkouts are often shallow)")
    commit = found.stdout.decode().strip()
    base = _git(["merge-base", commit, "HEAD"], root)
    # No common history (or no HEAD yet): compare with the ref itself.
    since = base.stdout.decode().strip() if base.returncode == 0 and base.stdout.strip() else commit
    # Run from the top level so that diff.relative and the like do not change the names.
    diff = _git(["-c", "core.quotePath=false", "diff", "--name-only", "-z", "--no-renames",
                 "--diff-filter=d", since, "--"], root)
    if diff.returncode != 0:
        raise GitError(f"git diff failed: {diff.stderr.decode(errors='replace').strip().splitlines()[-1:]}")
    untracked = _git(["ls-files", "--others", "--exclude-standard", "-z"], root)
    if untracked.returncode != 0:
        raise GitError("git ls-files failed")
    top_dir = str(root)
    return _names(diff.stdout, top_dir) | _names(untracked.stdout, top_dir)


def only_changed(targets: list[Target], ref: str, start: Path) -> list[Target]:
    changed = changed_files(ref, start)
    return [t for t in targets if os.path.realpath(t.path) in changed]
