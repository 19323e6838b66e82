"""The result cache, as a user meets it: a second run of an unchanged tree parses nothing.

`KERASCHECK_DEBUG_STATS=1` (hidden) makes the CLI print one line on stderr with the
number of files parsed and served from the cache.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import invoke, run_cli

BAD = ("import keras\nfrom keras import layers\n"
       "model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")
GOOD = ("import keras\nfrom keras import layers\n"
        "model = keras.Sequential([layers.BatchNormalization(), layers.Dropout(0.5)])\n")
PLAIN = "print('no keras here')\n"


def stats(result) -> dict[str, int]:
    match = re.search(r"kerascheck: debug: (.*)", result.stderr)
    assert match, result.stderr
    found = {k: int(v) for k, v in (item.split("=") for item in match.group(1).split())}
    found.pop("statements")  # how much libcst was given: a bench figure, not a cache one
    return found


def check(project: Path, *args: str, process: bool = False):
    """A run that reports its cache statistics; in this process unless `process`."""
    return (run_cli if process else invoke)("check", *args, cwd=project, env={"KERASCHECK_DEBUG_STATS": "1"})


def without_timing(text: str) -> str:
    return re.sub(r"\) in [0-9.]+ s", ") in T s", re.sub(r", \d+ from cache", "", text))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text(BAD)
    (tmp_path / "pkg" / "good.py").write_text(GOOD)
    (tmp_path / "pkg" / "plain.py").write_text(PLAIN)
    return tmp_path


def test_warm_run_parses_nothing_and_reports_the_same(project):
    cold = check(project, ".")
    assert cold.returncode == 1, cold.stderr
    assert stats(cold) == {"files": 3, "parsed": 2, "cached": 0, "skipped": 1}
    warm = check(project, ".")
    assert warm.returncode == 1, warm.stderr
    assert stats(warm) == {"files": 3, "parsed": 0, "cached": 2, "skipped": 1}
    assert without_timing(warm.stdout) == without_timing(cold.stdout)  # code frame included
    assert "pkg/bad.py:3:48: KC001" in warm.stdout
    assert "(3 files checked, 1 skipped by prefilter, 2 from cache)" in warm.stdout
    cold_json = json.loads(invoke("check", "--output-format", "json", "--no-cache", ".", cwd=project).stdout)
    warm_json = json.loads(check(project, "--output-format", "json", ".").stdout)
    assert warm_json == cold_json


def test_cache_directory_is_gitignored_like_ruffs(project):
    check(project, ".")
    cache = project / ".kerascheck_cache"
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (cache / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    # A cache is never a source of findings itself, and is never walked.
    assert stats(check(project, "."))["files"] == 3


def test_changed_file_is_parsed_again_and_only_it(project):
    check(project, ".")
    (project / "pkg" / "good.py").write_text(BAD)
    result = check(project, ".")
    assert stats(result) == {"files": 3, "parsed": 1, "cached": 1, "skipped": 1}
    assert "pkg/good.py:3:48: KC001" in result.stdout


@pytest.mark.parametrize("change", [
    ("--select", "KC001"),
    ("--ignore", "KC000"),
    ("--full-parse",),
])
def test_changed_setting_invalidates(project, change):
    check(project, ".")
    assert stats(check(project, "."))["parsed"] == 0
    result = check(project, *change, ".")
    assert stats(result)["parsed"] == 2 and stats(result)["cached"] == 0
    assert stats(check(project, *change, "."))["parsed"] == 0  # and it is cached in turn


def test_changed_config_option_invalidates_and_cache_lives_beside_the_config(project):
    (project / "pyproject.toml").write_text("[tool.kerascheck]\nmax-lines = 1000\n")
    check(project / "pkg", ".")  # run from a subdirectory: the cache goes to the config's folder
    assert (project / ".kerascheck_cache").is_dir()
    assert not (project / "pkg" / ".kerascheck_cache").exists()
    assert stats(check(project / "pkg", "."))["parsed"] == 0
    (project / "pyproject.toml").write_text("[tool.kerascheck]\nmax-lines = 2\n")
    result = check(project / "pkg", ".")
    assert stats(result)["parsed"] == 0 and stats(result)["cached"] == 0  # too large: KC000, no parse
    assert "file too large" in result.stdout
    (project / "pyproject.toml").write_text(
        '[tool.kerascheck]\nmax-lines = 1000\nper-file-ignores = { "pkg/bad.py" = ["KC001"] }\n')
    result = check(project / "pkg", ".")
    assert result.returncode == 0, result.stdout
    assert stats(check(project / "pkg", "."))["parsed"] == 0


def test_no_cache_neither_reads_nor_writes(project):
    result = check(project, "--no-cache", ".")
    assert stats(result)["parsed"] == 2
    assert not (project / ".kerascheck_cache").exists()
    check(project, ".")
    assert stats(check(project, "--no-cache", "."))["parsed"] == 2


@pytest.mark.parametrize("garbage", [b"", b"{not json", b"\x00\xff" * 100, b"[1, 2]",
                                     b'{"format": 1, "files": {"pkg/bad.py": ["x", [{"nope": 1}]]}}',
                                     b'{"format": 1, "files": {"pkg/bad.py": 7}}'])
def test_corrupt_cache_is_ignored_and_rewritten(project, garbage):
    expected = check(project, ".").stdout
    files = list((project / ".kerascheck_cache").rglob("*.json"))
    assert files
    for path in files:
        path.write_bytes(garbage)
    result = check(project, ".")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert without_timing(result.stdout) == without_timing(expected)
    assert stats(check(project, "."))["parsed"] == 0  # repaired


def test_a_matching_digest_with_broken_findings_is_a_miss(project):
    check(project, ".")
    (path,) = (project / ".kerascheck_cache").rglob("*.json")
    data = json.loads(path.read_text())
    data["files"]["pkg/bad.py"][1] = [{"code": "KC001", "unexpected": True}]
    path.write_text(json.dumps(data))
    result = check(project, ".")
    assert stats(result)["parsed"] == 1 and "pkg/bad.py:3:48: KC001" in result.stdout


def test_unwritable_cache_does_not_fail_the_run(project):
    (project / ".kerascheck_cache").write_text("a file where the directory should be")
    result = check(project, ".")
    assert result.returncode == 1 and "pkg/bad.py:3:48: KC001" in result.stdout
    assert "Traceback" not in result.stderr


def test_parallel_workers_and_concurrent_runs_leave_a_valid_cache(project):
    for i in range(12):
        (project / "pkg" / f"m{i}.py").write_text(BAD if i % 2 else GOOD)
    cmd = [sys.executable, "-m", "kerascheck", "check", "--jobs", "2", "."]
    procs = [subprocess.Popen(cmd, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, "NO_COLOR": "1"})
             for _ in range(4)]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err
    for path in (project / ".kerascheck_cache").rglob("*"):
        assert not path.name.endswith(".part"), "a temporary file was left behind"
        if path.suffix == ".json":
            json.loads(path.read_text())
    result = check(project, "--jobs", "2", ".", process=True)
    assert stats(result) == {"files": 15, "parsed": 0, "cached": 14, "skipped": 1}
    assert result.stdout.count(": KC001 ") == 7
