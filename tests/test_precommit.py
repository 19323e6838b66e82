"""The pre-commit hooks as a user gets them.

- The README's own snippet, copied from README.md as it stands: a `repo: local` hook with
  `language: system` that runs the `kerascheck` installed beside this Python.
- `.pre-commit-hooks.yaml`, for when the repository is published: `pre-commit try-repo` on a copy
  of this checkout. pre-commit builds the hook's environment from PyPI (about 20 s), hence `slow`.
  `try-repo` uses the repository's committed HEAD, so the working tree (with uncommitted changes)
  is copied to a throwaway repository and committed there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

BAD = ("import keras\nfrom keras import layers\n"
       "model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")
GOOD = BAD.replace("layers.Dropout(0.5), layers.BatchNormalization()", "layers.BatchNormalization(), layers.Dropout(0.5)")

SKIP = shutil.ignore_patterns(".git", "*.egg-info", "build", "dist", "__pycache__", ".pytest_cache",
                              ".kerascheck_cache", ".benchmarks", ".venv", "venv")


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=kerascheck tests", "-c", "user.email=tests@invalid",
                    "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
                   cwd=cwd, check=True, capture_output=True)


def test_readme_hook_snippet_as_copied(tmp_path: Path):
    """The README's `.pre-commit-config.yaml`, verbatim, in a project: the commit of a bad file
    fails with its finding, a good one passes, an excluded one is left alone (--force-exclude)."""
    pytest.importorskip("pre_commit", reason="pre-commit is in the `test` extra")
    from tests.test_readme import hook_snippet

    bindir = Path(sys.executable).parent
    if shutil.which("git") is None or shutil.which("kerascheck", path=str(bindir)) is None:
        pytest.skip("needs git and the `kerascheck` script beside this Python")
    project = tmp_path / "project"
    project.mkdir()
    (project / ".pre-commit-config.yaml").write_text(hook_snippet())
    (project / "pyproject.toml").write_text('[tool.kerascheck]\nextend-exclude = ["legacy/"]\n')
    (project / "bad.py").write_text(BAD)
    (project / "good.py").write_text(GOOD)
    (project / "legacy").mkdir()
    (project / "legacy" / "old.py").write_text(BAD)
    _git("init", "-q", cwd=project)
    _git("add", "-A", cwd=project)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), NO_COLOR="1",
               PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")

    def run(*files: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--files", *files], cwd=project,
                              env=env, capture_output=True, text=True, timeout=600)

    bad = run("bad.py")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "bad.py:3:48: KC001" in bad.stdout and "Failed" in bad.stdout
    good = run("good.py")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout
    excluded = run("legacy/old.py")
    assert excluded.returncode == 0, excluded.stdout + excluded.stderr


def test_hook_fails_on_bad_file_and_passes_on_good_one(tmp_path: Path):
    pytest.importorskip("pre_commit", reason="pre-commit is in the `test` extra")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    hook_repo = tmp_path / "kerascheck"
    shutil.copytree(ROOT, hook_repo, ignore=SKIP)
    _git("init", "-q", cwd=hook_repo)
    _git("add", "-A", cwd=hook_repo)
    _git("commit", "-q", "-m", "snapshot", cwd=hook_repo)

    project = tmp_path / "project"
    project.mkdir()
    (project / "bad.py").write_text(BAD)
    (project / "good.py").write_text(GOOD)
    _git("init", "-q", cwd=project)
    _git("add", "-A", cwd=project)

    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"), NO_COLOR="1")

    def try_repo(*files: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "kerascheck",
                               "--files", *files], cwd=project, env=env, capture_output=True, text=True,
                              timeout=600)

    bad = try_repo("bad.py")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "bad.py:3:48: KC001" in bad.stdout
    good = try_repo("good.py")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout
