"""Discovery: inside a git work tree the file list is git's own; outside it, the .gitignore walk.

The tree below exercises what a hand-written matcher gets wrong: nested .gitignore files with
`!` re-includes, a re-include under an excluded folder (git cannot re-include it), files git
ignores through `.git/info/exclude` and `core.excludesFile` (set in the repository's own
config, so the user's global config is never touched), tracked files that a pattern matches,
tracked files deleted from the disk, and names git would quote.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kerascheck import discover as discover_module
from kerascheck.config import Settings
from kerascheck.discover import DEFAULT_EXCLUDES, SUFFIXES, discover
from tests.conftest import invoke

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}

NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
TREE = {
    ".gitignore": "*.gen.py\n!important.gen.py\nlogs/\n!logs/special.py\nsecret_*.py\n",
    "a.py": "", "b.gen.py": "", "important.gen.py": "", "stub.pyi": "", "nb.ipynb": NOTEBOOK,
    "notes.txt": "", "with space.py": "", "ünï.py": "",
    "info_excluded.py": "", "global_excluded.py": "",
    "forced.gen.py": "",  # tracked with `add -f`: git lists it whatever .gitignore says
    "deleted.py": "",  # tracked, then deleted from the disk
    "pkg/.gitignore": "!secret_ok.py\nlocal_*.py\n",
    "pkg/m.py": "", "pkg/secret_ok.py": "", "pkg/secret_no.py": "", "pkg/local_x.py": "",
    "pkg/sub/.gitignore": "*\n!*/\n!keep_*.py\n",
    "pkg/sub/keep_a.py": "", "pkg/sub/drop.py": "", "pkg/sub/deeper/keep_b.py": "",
    "logs/l.py": "", "logs/special.py": "",
    "build/out.py": "",  # a kerascheck default exclude, though git lists it
    "src/.venv/lib.py": "",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory, monkeypatch):
    """Neither the user's global git config nor their default excludes file may change a result."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def write_tree(root: Path, tree: dict[str, str]) -> None:
    for name, text in tree.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    write_tree(root, TREE)
    git(root, "init", "-q")
    (root / ".git" / "info").mkdir(exist_ok=True)
    (root / ".git" / "info" / "exclude").write_text("info_excluded.py\n")
    excludes_file = tmp_path / "global-excludes"
    excludes_file.write_text("global_excluded.py\n")
    git(root, "config", "core.excludesFile", str(excludes_file))  # the repository's config, not ~/.gitconfig
    git(root, "add", "-A")
    git(root, "add", "-f", "forced.gen.py", "deleted.py")
    git(root, "commit", "-qm", "tree")
    (root / "deleted.py").unlink()
    return root


def found(paths, root: Path, **settings) -> set[str]:
    return {t.display for t in discover(tuple(paths), Settings(root=root, **settings), cwd=root)}


def git_listing(repo: Path) -> set[str]:
    """git's own list of the files to check: what it tracks or would add, present on the disk."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                         check=True, capture_output=True).stdout
    names = {os.fsdecode(n) for n in out.split(b"\0") if n}
    return {n for n in names if n.endswith(SUFFIXES) and (repo / n).exists()
            and not DEFAULT_EXCLUDES_IN(n)}


def DEFAULT_EXCLUDES_IN(name: str) -> bool:  # noqa: N802 - reads as the set it tests
    return any(part in DEFAULT_EXCLUDES for part in name.split("/")[:-1])


def walk_all(root: Path) -> set[str]:
    """Every Python file on the disk outside the default-excluded folders."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES)
            and not DEFAULT_EXCLUDES_IN(p.relative_to(root).as_posix())}


# ------------------------------------------------------------------ git mode


def test_inside_a_work_tree_the_list_is_gits(repo):
    listed = found(["."], repo)
    assert listed == git_listing(repo)
    # What a pathspec walk could not know, or gets wrong:
    assert {"important.gen.py", "pkg/secret_ok.py", "pkg/sub/keep_a.py", "pkg/sub/deeper/keep_b.py",
            "forced.gen.py", "with space.py", "ünï.py", "stub.pyi", "nb.ipynb"} <= listed
    assert not {"b.gen.py", "pkg/secret_no.py", "pkg/local_x.py", "pkg/sub/drop.py", "logs/l.py",
                "logs/special.py", "info_excluded.py", "global_excluded.py", "deleted.py",
                "build/out.py", "src/.venv/lib.py"} & listed


def test_subdirectories_and_files_restrict_the_list(repo):
    assert found(["pkg"], repo) == {n for n in git_listing(repo) if n.startswith("pkg/")}
    assert found(["pkg/sub", "a.py"], repo) == {"pkg/sub/keep_a.py", "pkg/sub/deeper/keep_b.py", "a.py"}
    # From a subdirectory: names are relative to where kerascheck runs.
    got = {t.display for t in discover((".",), Settings(root=repo), cwd=repo / "pkg")}
    assert got == {n.removeprefix("pkg/") for n in git_listing(repo) if n.startswith("pkg/")}


def test_one_git_call_per_repository(repo, monkeypatch):
    calls = []
    real_run = subprocess.run

    def counting(cmd, *args, **kwargs):
        calls.append(cmd)
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(discover_module.subprocess, "run", counting)
    listed = found([".", "pkg", "pkg/sub"], repo)
    assert len(calls) == 1 and calls[0][:3] == ["git", "--literal-pathspecs", "ls-files"]
    assert listed == git_listing(repo)


def test_an_ignored_directory_named_on_the_command_line_is_checked(repo):
    """As ruff does: `kerascheck check logs/` checks logs/ even though .gitignore ignores it (a
    virtualenv's site-packages inside a git-managed ~/.pyenv is the common case)."""
    assert "logs/l.py" not in git_listing(repo)
    assert found(["logs"], repo) == {"logs/l.py", "logs/special.py"}
    assert "logs/l.py" not in found(["."], repo)


def test_explicit_files_are_checked_unless_force_exclude(repo):
    ignored = ["b.gen.py", "info_excluded.py", "global_excluded.py", "pkg/secret_no.py", "logs/l.py"]
    assert found(ignored, repo) == set(ignored)
    assert found([*ignored, "forced.gen.py", "a.py"], repo, force_exclude=True) == {"forced.gen.py", "a.py"}
    assert found(["build/out.py"], repo, force_exclude=True) == set()
    assert found(["a.py"], repo, force_exclude=True, exclude=("a.py",)) == set()


def test_configured_and_default_excludes_apply_on_top(repo):
    listed = found(["."], repo, exclude=("pkg/sub/",), extend_exclude=("*.pyi",))
    assert listed == {n for n in git_listing(repo) if not n.startswith("pkg/sub/") and not n.endswith(".pyi")}
    # A default-excluded folder named on the command line is checked; only folders below it are skipped.
    assert found(["build"], repo) == {"build/out.py"}


def test_glob_characters_in_a_path_are_literal(repo):
    weird = repo / "odd[1]*"
    weird.mkdir()
    (weird / "x.py").write_text("")
    (repo / "odd1z").mkdir()
    (repo / "odd1z" / "y.py").write_text("")
    assert found(["odd[1]*"], repo) == {"odd[1]*/x.py"}


def test_nested_repository_and_submodule_are_listed_by_their_own_git(repo, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    write_tree(lib, {".gitignore": "ignored_in_lib.py\n", "lib_mod.py": "", "ignored_in_lib.py": ""})
    git(lib, "init", "-q")
    git(lib, "add", "-A")
    git(lib, "commit", "-qm", "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "libsub")
    git(repo, "commit", "-qm", "submodule")
    clone = repo / "vendor"  # an untracked clone inside the work tree
    git(repo, "clone", "-q", str(lib), "vendor")
    listed = found(["."], repo)
    assert {"libsub/lib_mod.py", "vendor/lib_mod.py"} <= listed
    assert not {"libsub/ignored_in_lib.py", "vendor/ignored_in_lib.py"} & listed
    assert listed - {"libsub/lib_mod.py", "vendor/lib_mod.py"} == git_listing(repo)
    assert clone.is_dir()


def test_submodule_not_checked_out_is_skipped(repo, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "lib_mod.py").write_text("")
    git(lib, "init", "-q")
    git(lib, "add", "-A")
    git(lib, "commit", "-qm", "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "libsub")
    git(repo, "commit", "-qm", "submodule")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))  # submodules are not checked out: libsub/ is empty
    assert (clone / "libsub").is_dir() and not any((clone / "libsub").iterdir())
    assert found(["."], clone) == git_listing(clone)


def test_repository_below_a_plain_folder_is_listed_by_git(repo):
    outer = repo.parent  # not a work tree itself
    listed = {t.display for t in discover((".",), Settings(root=outer), cwd=outer)}
    assert listed == {f"repo/{n}" for n in git_listing(repo)}


def test_cli_uses_gits_list(repo):
    result = invoke("check", "--no-cache", ".", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert f"({len(git_listing(repo))} files checked" in result.stdout


# ------------------------------------------------------------------ the walk


def test_outside_a_work_tree_the_walk_reads_the_gitignore_files(repo, tmp_path):
    """The same tree without `.git`: .gitignore files still count (their negations included),
    while what only git knows (info/exclude, core.excludesFile, the index) does not."""
    plain = tmp_path / "plain"
    shutil.copytree(repo, plain, ignore=shutil.ignore_patterns(".git"))
    assert found(["."], plain) == (git_listing(repo) | {"info_excluded.py", "global_excluded.py"}) - {"forced.gen.py"}


def test_no_respect_gitignore_lists_everything(repo):
    listed = found(["."], repo, respect_gitignore=False)
    assert listed == walk_all(repo)
    assert {"b.gen.py", "logs/special.py", "info_excluded.py", "pkg/sub/drop.py"} <= listed


def test_without_git_the_walk_is_used(repo, tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    shutil.copytree(repo, plain, ignore=shutil.ignore_patterns(".git"))
    expected = found(["."], plain)
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert found(["."], repo) == expected


def test_git_that_fails_falls_back_to_the_walk(repo, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(repo, plain, ignore=shutil.ignore_patterns(".git"))
    (repo / ".git" / "HEAD").write_text("garbage\n")  # git no longer sees a repository here
    assert found(["."], repo) == found(["."], plain)


def test_force_exclude_judges_default_excludes_below_the_project_only(tmp_path):
    """A project that lives under a folder named like a default exclude (`~/build/proj`) is still
    checked: only folders inside the project count (the pre-commit hook passes --force-exclude)."""
    project = tmp_path / "build" / "proj"
    (project / "venv").mkdir(parents=True)
    (project / "x.py").write_text("")
    (project / "venv" / "y.py").write_text("")
    assert found(["x.py", "venv/y.py"], project, force_exclude=True) == {"x.py"}
