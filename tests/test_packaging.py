"""Packaging as a user gets it: the sdist and the wheel that `python -m build` makes from a copy of
this checkout (the wheel is built from the sdist, as pip does from PyPI).

- the wheel installs one top-level package, `kerascheck` (the repository's `rules/` is
  `kerascheck.rules`), with an SPDX license, its LICENSE file, classifiers, keywords and an author,
  and no project URLs or placeholders;
- the sdist holds every file of the repository the tests need, and one CLI test runs from it;
- the `test` extra installs one TensorFlow distribution;
- nothing kerascheck prints or writes carries a placeholder link.

Building needs setuptools from the package index (build isolation), about 30 s.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, invoke

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SKIP = shutil.ignore_patterns(".git", "*.egg-info", "build", "dist", "__pycache__", ".pytest_cache",
                              ".kerascheck_cache", ".benchmarks", ".venv", "venv")
PLACEHOLDERS = re.compile(r"example\.(invalid|com|org)|\bTODO\b|\bFIXME\b|your[-_ ](name|email|repo|org)|"
                          r"<(url|repo|your)[^>]*>", re.I)
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(sdist, wheel) of a copy of this checkout, the wheel built from the unpacked sdist."""
    pytest.importorskip("build", reason="`build` is in the test extra")
    src = tmp_path_factory.mktemp("checkout") / "kerascheck"
    shutil.copytree(ROOT, src, ignore=SKIP)
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return sdist, wheel


def _metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as zf:
        [name] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(zf.read(name).decode("utf-8"))


def test_wheel_installs_only_the_kerascheck_package(built):
    _, wheel = built
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert top == {"kerascheck", "kerascheck-0.1.0.dist-info"}  # no `rules`, `tests` or `fixtures`
    assert "kerascheck/rules/kc001_dropout_before_batchnorm.py" in names
    assert "kerascheck/rules/confirm/kc001.py" in names
    assert not any(n.startswith("rules/") for n in names)


def test_readme_install_commands_name_this_wheel(built):
    """The README's wheel commands: `pip wheel` writes the file the README installs."""
    sdist, wheel = built
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"pip wheel --no-deps -w dist .        # writes dist/{wheel.name}" in readme
    assert f"pip install dist/{wheel.name}" in readme
    assert f"pip install tools/{wheel.name}" in readme  # the GitHub Actions workflow
    with tarfile.open(sdist) as tf:
        pyproject = tomllib.loads(tf.extractfile(f"{sdist.name[:-len('.tar.gz')]}/pyproject.toml").read().decode())
    assert {"test", "confirm"} <= set(pyproject["project"]["optional-dependencies"])  # `pip install ".[confirm]"`


def test_wheel_metadata_license_classifiers_author_and_no_urls(built):
    _, wheel = built
    meta = _metadata(wheel)
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert "License" not in meta  # the deprecated free-text field is gone
    with zipfile.ZipFile(wheel) as zf:
        license_text = zf.read("kerascheck-0.1.0.dist-info/licenses/LICENSE").decode()
    assert license_text.startswith("MIT License") and "Permission is hereby granted" in license_text
    classifiers = meta.get_all("Classifier")
    assert len(classifiers) >= 5
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639: the expression says it
    trove = pytest.importorskip("trove_classifiers", reason="trove-classifiers is in the test extra")
    assert set(classifiers) <= trove.classifiers, set(classifiers) - trove.classifiers
    assert {"keras", "tensorflow", "linter"} <= set(meta["Keywords"].split(","))
    assert meta["Author"] and not PLACEHOLDERS.search(meta["Author"])
    assert meta.get_all("Project-URL") is None and meta["Home-page"] is None  # no public home yet
    assert isinstance(PYPROJECT["project"]["license"], str)  # the SPDX string, not the deprecated table
    headers = "\n".join(f"{k}: {v}" for k, v in meta.items())
    assert not PLACEHOLDERS.search(headers), PLACEHOLDERS.search(headers)


def _repository_files() -> set[str] | None:
    """The files this checkout tracks (None outside a git work tree)."""
    if shutil.which("git") is None:
        return None
    proc = subprocess.run(["git", "ls-files", "--cached"], cwd=ROOT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return {line for line in proc.stdout.splitlines() if (ROOT / line).is_file()}


def test_sdist_holds_everything_the_tests_need(built):
    sdist, _ = built
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for needed in ("tests/conftest.py", "tests/test_cli.py", "tests/measurements/kc004_extra.py",
                   "tests/measurements/kc004_extra.out", "fixtures/kc001/sequential_styles.py",
                   "fixtures/kc001/sequential_styles.expected", "bench/bench.py", "bench/accuracy.py",
                   "bench/accuracy.csv", "rules/kc001_dropout_before_batchnorm.py", "LICENSE", "README.md",
                   ".pre-commit-hooks.yaml", "pyproject.toml"):
        assert needed in names, needed
    tracked = _repository_files()
    if tracked is not None:  # in a checkout: every tracked file but git's own
        assert tracked - names - {".gitignore"} == set()


def test_one_cli_test_runs_from_the_unpacked_sdist(built, tmp_path):
    """Unpack the sdist, install the wheel built from it, and run one of its CLI tests against
    that installation (not this checkout): the sdist is a complete source of the project."""
    sdist, wheel = built
    with tarfile.open(sdist) as tf:
        if hasattr(tarfile, "data_filter"):  # 3.11.4+: refuse odd members
            tf.extractall(tmp_path, filter="data")
        else:  # pragma: no cover
            tf.extractall(tmp_path)
    [unpacked] = tmp_path.glob("kerascheck-*")
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--quiet",
                          "--target", str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr
    neutral = tmp_path / "elsewhere"  # not the unpacked folder: its own `kerascheck/` would shadow the wheel
    neutral.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(unpacked)]), "PYTHONDONTWRITEBYTECODE": "1"}
    where = subprocess.run([sys.executable, "-c", "import kerascheck.rules, tests.conftest as c; "
                            "print(kerascheck.rules.__file__); print(c.ROOT)"],
                           cwd=neutral, env=env, capture_output=True, text=True, timeout=60)
    rules_file, root = where.stdout.splitlines()
    assert Path(rules_file).is_relative_to(site) and Path(root) == unpacked, where.stdout
    test = "tests/test_cli.py::test_module_entry_point_exit_1_and_default_path"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
                           str(unpacked), str(unpacked / test)], cwd=neutral, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert re.search(r"^1 passed", proc.stdout, re.M), proc.stdout


def test_the_test_extra_installs_one_tensorflow():
    from packaging.requirements import Requirement

    tensorflows = {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos", "tensorflow-intel",
                   "intel-tensorflow", "tf-nightly", "tf-nightly-cpu"}
    test = [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["test"]]
    assert [r.name for r in test if r.name in tensorflows] == ["tensorflow"]
    assert next(r for r in test if r.name == "tensorflow").marker is None  # every platform: one name
    assert "tf-keras" in {r.name for r in test}
    try:
        from importlib.metadata import PackageNotFoundError, requires

        needs = [Requirement(r) for r in requires("tf-keras") or ()]
    except PackageNotFoundError:
        pytest.skip("tf-keras is not installed")
    assert "tensorflow" in {r.name for r in needs}  # tf-keras pulls `tensorflow` itself


def test_nothing_kerascheck_prints_or_writes_has_a_placeholder(tmp_path):
    bad = ("import keras\nfrom keras import layers\n"
           "model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")
    (tmp_path / "m.py").write_text(bad)
    (tmp_path / "nb.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "code", "source": bad, "metadata": {}, "outputs": [], "execution_count": None}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    runs = [invoke("--help"), invoke("--version"), invoke("check", "--help"), invoke("rule", "--help"),
            invoke("rule", "--all")]
    runs += [invoke("rule", code) for code in re.findall(r"^(KC\d{3})", runs[-1].stdout, re.M)]
    for fmt in ("text", "json", "sarif", "github"):
        runs.append(invoke("check", ".", "--output-format", fmt, "--report-unused-noqa", cwd=tmp_path))
        runs.append(invoke("check", ".", "--output-format", fmt, "-o", f"reports/out.{fmt}", cwd=tmp_path))
    runs.append(invoke("check", ".", "--statistics", cwd=tmp_path))
    runs.append(invoke("check", ".", "--write-baseline", "base.json", cwd=tmp_path))
    runs.append(invoke("check", ".", "--confirm", "--select", "KC999", cwd=tmp_path))  # an error message
    assert [r for r in runs if r.returncode not in (0, 1, 2)] == []
    assert len(runs) > 15 and any("runs" in r.stdout for r in runs)  # the SARIF log is among them
    printed = "\n".join(r.stdout + r.stderr for r in runs)
    written = "\n".join(p.read_text(errors="replace") for p in sorted(tmp_path.rglob("*"))
                        if p.is_file() and p.suffix not in (".py", ".ipynb"))
    assert "tool" in written and "KC001" in written  # the SARIF file, the baseline and the cache were read
    for where, text in (("printed", printed), ("written", written)):
        assert "example.invalid" not in text, where
        assert "helpUri" not in text and "informationUri" not in text, where
        found = PLACEHOLDERS.search(text)
        assert found is None, (where, text[max(0, found.start() - 200):found.end() + 50])
