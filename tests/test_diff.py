"""`check --changed-since REF`: only files changed since a git ref."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import invoke

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

BAD = ("import keras\nfrom keras import layers\n"
       "model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True,
                          env={"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
                               "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
                               "PATH": "/usr/bin:/bin:/usr/local/bin"}).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: every file; feature: one commit, then staged, unstaged and untracked changes."""
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "src").mkdir()
    for name in ("committed", "staged", "unstaged", "unchanged", "deleted", "src/nested"):
        (tmp_path / f"{name}.py").write_text(BAD)
    (tmp_path / ".gitignore").write_text("ignored.py\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    git(tmp_path, "checkout", "-qb", "feature")
    (tmp_path / "committed.py").write_text(BAD + "# changed\n")
    (tmp_path / "src" / "nested.py").write_text(BAD + "# changed\n")
    git(tmp_path, "commit", "-qam", "feature work")
    (tmp_path / "staged.py").write_text(BAD + "# staged\n")
    git(tmp_path, "add", "staged.py")
    (tmp_path / "unstaged.py").write_text(BAD + "# unstaged\n")
    (tmp_path / "deleted.py").unlink()
    (tmp_path / "untracked file.py").write_text(BAD)
    (tmp_path / "ignored.py").write_text(BAD)
    (tmp_path / "notes.txt").write_text("BatchNormalization")
    return tmp_path


def paths(result) -> list[str]:
    assert result.returncode in (0, 1), result.stderr
    return sorted({d["path"] for d in json.loads(result.stdout)})


CHANGED = ["committed.py", "src/nested.py", "staged.py", "unstaged.py", "untracked file.py"]


@pytest.mark.parametrize("flag", ["--changed-since"])
def test_only_changed_python_files_are_checked(repo, flag):
    result = invoke("check", "--no-cache", "--output-format", "json", flag, "main", cwd=repo)
    assert paths(result) == CHANGED


def test_merge_base_not_the_refs_own_later_commits(repo):
    """Work that landed on main after the branch point is not the pull request's change."""
    git(repo, "stash", "-u")
    git(repo, "checkout", "-q", "main")
    (repo / "unchanged.py").write_text(BAD + "# later on main\n")
    git(repo, "commit", "-qam", "main moves on")
    git(repo, "checkout", "-q", "feature")
    git(repo, "stash", "pop")
    assert paths(invoke("check", "--no-cache", "--output-format", "json", "--changed-since", "main", cwd=repo)) == CHANGED


def test_head_means_uncommitted_changes_only(repo):
    result = invoke("check", "--no-cache", "--output-format", "json", "--changed-since", "HEAD", cwd=repo)
    assert paths(result) == ["staged.py", "unstaged.py", "untracked file.py"]


def test_paths_still_limit_the_files(repo):
    result = invoke("check", "--no-cache", "--output-format", "json", "--changed-since", "main", "src", cwd=repo)
    assert paths(result) == ["src/nested.py"]


def test_run_from_a_subdirectory_and_text_output(repo):
    result = invoke("check", "--no-cache", "--changed-since", "HEAD~1", ".", cwd=repo / "src")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("nested.py:3:48: KC001")
    assert "(1 file checked" in result.stdout


def test_nothing_changed_is_clean(repo):
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "all")
    result = invoke("check", "--no-cache", "--changed-since", "HEAD", cwd=repo)
    assert result.returncode == 0, result.stdout
    assert "0 files checked" in result.stdout


@pytest.mark.parametrize("ref", ["no-such-branch", "-x", "main..HEAD^^^^^^"])
def test_unknown_ref_is_one_line_exit_2(repo, ref):
    result = invoke("check", "--changed-since", ref, cwd=repo)
    assert result.returncode == 2
    assert result.stderr.startswith("kerascheck: error: unknown git ref")
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_not_a_repository_is_one_line_exit_2(tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    result = invoke("check", "--changed-since", "main", cwd=tmp_path, env={"GIT_CEILING_DIRECTORIES": str(tmp_path.parent)})
    assert result.returncode == 2
    assert result.stderr.strip() == f"kerascheck: error: --changed-since needs a git repository, and {tmp_path.resolve()} is not inside one"


def test_notebooks_changed_are_included(repo):
    (repo / "new.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code", "source": BAD}], "metadata": {}}))
    assert "new.ipynb" in paths(invoke("check", "--no-cache", "--output-format", "json", "--changed-since", "HEAD", cwd=repo))


def test_changed_since_also_checks_the_files_that_import_a_changed_one(tmp_path):
    """blocks.py changed on the branch: train.py, unchanged, imports it and is checked too."""
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "blocks.py").write_text("from tensorflow.keras import layers\ndef block(x):\n"
                                        "    return layers.Dense(4)(x)\n")
    (tmp_path / "train.py").write_text("import tensorflow as tf\nfrom blocks import block\n"
                                       "x = tf.keras.layers.BatchNormalization()(block(tf.keras.Input((8,))))\n")
    (tmp_path / "other.py").write_text(BAD)
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    git(tmp_path, "checkout", "-qb", "feature")
    (tmp_path / "blocks.py").write_text("from tensorflow.keras import layers\ndef block(x):\n"
                                        "    return layers.Dropout(0.5)(x)\n")
    result = invoke("check", "--no-cache", "--changed-since", "main", "--output-format", "json", ".", cwd=tmp_path)
    found = json.loads(result.stdout)
    assert [(f["path"], f["line"], f["related"][0]["path"]) for f in found] == [("train.py", 3, "blocks.py")]
