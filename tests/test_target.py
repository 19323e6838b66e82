"""Which Keras a project runs on (kerascheck/target.py): pins read from dependency files, the
file's own markers, config and per-path overrides, `--target-keras`, `--show-settings`.

The multi-file projects in fixtures/projects/ are checked through the command line from their
own folder (so their config files count); each file's findings are in its sibling `.expected`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kerascheck.config import Settings
from kerascheck.facts import ProjectFacts
from kerascheck.target import Inference, bounds, judge, markers, verdict
from tests.conftest import FIXTURES, invoke

PROJECTS = FIXTURES / "projects"
# crossfile_* are the multi-file projects of the project index: tests/test_project_fixtures.py runs them.
PROJECT_FILES = sorted(p for p in PROJECTS.rglob("*") if p.suffix in (".py", ".ipynb") and p.name != "setup.py"
                       and not p.relative_to(PROJECTS).parts[0].startswith("crossfile_"))


def _render(findings: list[dict]) -> str:
    return "".join(f"{'cell %d:' % d['cell'] if 'cell' in d else ''}{d['line']}:{d['column']} {d['code']} {d['message']}\n"
                   for d in findings)


def _project_of(path: Path) -> Path:
    return PROJECTS / path.relative_to(PROJECTS).parts[0]


@pytest.mark.parametrize("path", PROJECT_FILES, ids=[p.relative_to(PROJECTS).as_posix() for p in PROJECT_FILES])
def test_project_fixture(path: Path):
    project = _project_of(path)
    result = invoke("check", "--no-cache", "--format", "json", "--exit-zero", ".", cwd=project)
    assert result.returncode == 0, result.stderr
    rel = path.relative_to(project).as_posix()
    got = _render([d for d in json.loads(result.stdout) if d["path"] == rel])
    expected = path.with_suffix(".expected")
    assert expected.exists(), f"{expected} is missing"
    assert got == expected.read_text(encoding="utf-8")


def test_target_keras_3_answers_what_breaks_on_upgrade():
    """The pinned Keras 2 project is silent; `--target-keras 3` shows what breaks on Keras 3 and
    says why the finding fires although the project pins Keras 2."""
    project = PROJECTS / "pinned_k2"
    quiet = invoke("check", "--no-cache", "--select", "KC004", ".", cwd=project)
    assert quiet.returncode == 0, quiet.stdout
    loud = invoke("check", "--no-cache", "--select", "KC004", "--format", "json", "--target-keras", "3", ".",
                  cwd=project)
    assert loud.returncode == 1
    found = json.loads(loud.stdout)
    assert [(d["path"], d["line"]) for d in found] == [("src/model.py", 9), ("src/model.py", 11)]
    for d in found:
        assert d["message"].endswith("(target Keras 3 from --target-keras; this file runs Keras 2: "
                                     "requirements.txt:3: tensorflow-gpu==2.6.0)"), d["message"]


def test_target_keras_3_does_not_rename_findings_that_fire_anyway():
    project = PROJECTS / "unpinned"
    plain = json.loads(invoke("check", "--no-cache", "--format", "json", ".", cwd=project).stdout)
    forced = json.loads(invoke("check", "--no-cache", "--format", "json", "--target-keras", "3", ".",
                               cwd=project).stdout)
    assert plain and plain == forced


def test_target_keras_2_silences_tf_ops_everywhere():
    result = invoke("check", "--no-cache", "--select", "KC004", "--target-keras", "2", ".", cwd=PROJECTS / "unpinned")
    assert result.returncode == 0, result.stdout


def test_show_settings_names_the_pin(tmp_path):
    shutil.copytree(PROJECTS / "pinned_k2", tmp_path / "p")
    result = invoke("check", "--show-settings", "src/model.py", cwd=tmp_path / "p")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Settings for src/model.py"
    assert "  target-keras: 2" in lines
    assert "    from: requirements.txt:3: tensorflow-gpu==2.6.0" in lines
    forced = invoke("check", "--show-settings", "--target-keras", "3", "src/model.py", cwd=tmp_path / "p")
    assert "  target-keras: 3" in forced.stdout.splitlines()
    assert "    from: --target-keras" in forced.stdout.splitlines()
    assert "    without --target-keras: 2 (from: requirements.txt:3: tensorflow-gpu==2.6.0)" in forced.stdout


def test_show_settings_says_which_sources_were_skipped(tmp_path):
    shutil.copytree(PROJECTS / "bad_sources", tmp_path / "p")
    out = invoke("check", "--show-settings", "model.py", cwd=tmp_path / "p").stdout.splitlines()
    assert "  target-keras: 2" in out
    assert "    from: environment.yml:6: tensorflow=2.10" in out
    assert "    note: requirements.txt:1: not a requirement ('<<<<<<< HEAD'); requirements.txt skipped" in out
    assert ("    note: Pipfile: conflicting pins (Pipfile:2: tensorflow==2.10.0 vs Pipfile:3: keras>=3); skipped"
            in out)
    assert "    note: setup.py:3: install_requires is not a literal (kerascheck never runs setup.py); skipped" in out


def test_show_settings_without_any_pin_is_keras_3(tmp_path):
    (tmp_path / "m.py").write_text("import keras\n")
    (tmp_path / ".git").mkdir()  # the repository root: the search stops here
    out = invoke("check", "--show-settings", "m.py", cwd=tmp_path).stdout.splitlines()
    assert out[out.index("  target-keras: 3") + 1] == "    from: default: no Keras pin found"


def test_show_settings_of_the_config_and_per_path_overrides(tmp_path):
    shutil.copytree(PROJECTS / "per_path", tmp_path / "p")
    legacy = invoke("check", "--show-settings", "legacy/old_model.py", cwd=tmp_path / "p").stdout
    assert '  target-keras: 2\n    from: per-file-target-keras "legacy/*" in pyproject.toml\n' in legacy
    app = invoke("check", "--show-settings", "app/model.py", cwd=tmp_path / "p").stdout
    assert "  target-keras: 3\n    from: pyproject.toml:4: tensorflow>=2.16\n" in app
    shutil.copytree(PROJECTS / "config_override", tmp_path / "c")
    config = invoke("check", "--show-settings", "model.py", cwd=tmp_path / "c").stdout
    assert "  target-keras: 2\n    from: target-keras in pyproject.toml:8\n" in config


def test_show_settings_names_the_files_own_marker(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "m.py").write_text("import tensorflow as tf\n# import tf_keras (a comment is not a marker)\n"
                                   "from tf_keras import layers\n")
    out = invoke("check", "--show-settings", "m.py", cwd=tmp_path).stdout
    assert "  target-keras: 2\n    from: m.py:3: from tf_keras import layers\n" in out
    assert "`import keras` is still Keras 3 here" in out


@pytest.mark.parametrize("value, shown", [
    ('"4"', 'the string "4"'), ("2", "an integer"), ('"keras2"', 'the string "keras2"'), ("[\"2\"]", "a list"),
])
def test_a_malformed_target_keras_is_a_usage_error(tmp_path, value, shown):
    (tmp_path / "pyproject.toml").write_text(f"[tool.kerascheck]\ntarget-keras = {value}\n")
    (tmp_path / "m.py").write_text("import keras\n")
    result = invoke("check", "--no-cache", "m.py", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"kerascheck: error: 'target-keras' in pyproject.toml must be \"2\" or \"3\" "
                                     f"(a string: the Keras major version), not {shown}")


def test_a_malformed_per_path_target_is_a_usage_error(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.kerascheck]\nper-file-target-keras = { "old/*" = "2.15" }\n')
    (tmp_path / "m.py").write_text("import keras\n")
    result = invoke("check", "--no-cache", "m.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "'per-file-target-keras.\"old/*\"' in pyproject.toml must be \"2\" or \"3\"" in result.stderr


def test_legacy_keras_option_still_works_as_a_deprecated_alias(tmp_path, caplog):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.kerascheck.kc004]\nlegacy-keras = true\n")
    shutil.copy(PROJECTS / "unpinned" / "model.py", tmp_path / "model.py")
    result = invoke("check", "--no-cache", "--select", "KC004", "model.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "legacy-keras' in pyproject.toml is deprecated: use target-keras = \"2\"" in caplog.text
    out = invoke("check", "--show-settings", "model.py", cwd=tmp_path).stdout
    assert "  target-keras: 2\n    from: legacy-keras in pyproject.toml:2 (deprecated)\n" in out


def test_requirement_files_are_read_once_per_project(tmp_path, monkeypatch):
    """A run over 1,000 files reads the project's dependency files once."""
    import kerascheck.target as target

    (tmp_path / ".git").mkdir()
    (tmp_path / "requirements.txt").write_text("-r base.txt\ntensorflow==2.12\n")
    (tmp_path / "base.txt").write_text("numpy\n")
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup(install_requires=['tensorflow<2.13'])\n")
    source = "import tensorflow as tf\nx = tf.keras.Input((3,))\ny = tf.reduce_sum(x)\n"
    for i in range(1000):
        folder = tmp_path / "pkg" / f"sub{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"m{i}.py").write_text(source)
    reads: list[str] = []
    real = target._read
    monkeypatch.setattr(target, "_read", lambda path: reads.append(path.name) or real(path))
    result = invoke("check", "--no-cache", "--select", "KC004", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stdout  # every file is Keras 2: the pin counts for all
    assert sorted(reads) == ["base.txt", "requirements.txt", "setup.py"]


# ------------------------------------------------------------------ version specifiers


SPECS = [
    # (package, specifier, verdict, hard)
    ("tensorflow", "==2.6.0", "2", True),
    ("tensorflow", "~=2.6.0", "2", True),
    ("tensorflow", "~=2.15", "3", False),  # >= 2.15, == 2.*: pip installs the newest 2.x
    ("tensorflow", "==2.15.*", "2", True),
    ("tensorflow", "<2.16", "2", True),
    ("tensorflow", "<=2.15.1", "2", True),
    ("tensorflow", "<2.16.1", "3", False),  # allows 2.16.0
    ("tensorflow", ">=2.4,<2.11", "2", True),
    ("tensorflow", ">=2.4", "3", False),
    ("tensorflow", ">=2.16", "3", True),
    ("tensorflow", "==2.16.1", "3", True),
    ("tensorflow", "==1.15", "2", True),
    ("tensorflow", "", None, False),
    ("tensorflow", "!=2.5.0", None, False),
    ("tensorflow", "^2.6", "3", False),  # Poetry: >= 2.6, < 3
    ("tensorflow", "~2.6", "2", True),  # Poetry: >= 2.6, < 2.7
    ("tensorflow", "2.6.0", "2", True),  # Poetry: exact
    ("tensorflow", "=2.10", "2", True),  # conda: 2.10.*
    ("tensorflow", "2.10.* || 2.11.*", "2", True),
    ("tensorflow", "2.10.* || >=2.16", "3", False),
    ("keras", "==2.12.0", "2", True),
    ("keras", "<3", "2", True),
    ("keras", ">=3.0", "3", True),
    ("keras", ">=2.4", "3", False),
    ("tf-keras", "==2.15.1", "2", True),
    ("tf-keras", ">=2.16", None, False),  # says nothing about `tf.keras`
    ("tensorflow", "==not.a.version", None, False),
]


@pytest.mark.parametrize("package, spec, keras, hard", SPECS)
def test_verdicts(package, spec, keras, hard):
    assert verdict(package, spec) == (keras, hard)


def test_bounds_reads_upper_and_lower():
    assert bounds(">=2.4,<2.11") == (((2, 11), False), (2, 4))
    assert bounds("==2.6.*") == (((2, 7), False), (2, 6))
    assert bounds("~=2.6.0") == (((2, 7), False), (2, 6, 0))
    assert bounds("*") == (None, None)


# ------------------------------------------------------------------ sources


def _judge(tmp_path: Path, files: dict[str, str]):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return judge(tmp_path)


SOURCES = [
    ({"requirements.txt": "tensorflow[and-cuda]==2.14.0 ; python_version >= '3.9'\n"}, "2",
     "requirements.txt:1: tensorflow==2.14.0"),
    ({"requirements.txt": "tensorflow \\\n  ==2.8.0\n"}, "2", "requirements.txt:1: tensorflow==2.8.0"),
    ({"requirements.txt": "-c constraints.txt\ntensorflow\n", "constraints.txt": "tensorflow<2.16\n"}, "2",
     "constraints.txt:1: tensorflow<2.16"),
    ({"requirements-gpu.txt": "tensorflow-gpu==2.4.1\n"}, "2", "requirements-gpu.txt:1: tensorflow-gpu==2.4.1"),
    ({"requirements/prod.txt": "keras==2.11.0\n"}, "2", "requirements/prod.txt:1: keras==2.11.0"),
    ({"requirements.txt": "-e .\ngit+https://github.com/x/y.git#egg=y\n./wheels/a.whl\n--index-url https://x\n"
                          "tensorflow @ https://x/tf.whl\nkeras>=3\n"}, "3", "requirements.txt:6: keras>=3"),
    ({"pyproject.toml": '[project]\nname = "x"\ndependencies = [\n  "numpy",\n  "tensorflow>=2.4,<2.11",\n]\n'}, "2",
     "pyproject.toml:5: tensorflow>=2.4,<2.11"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.9"\ntensorflow = "~2.9"\n'}, "2",
     "pyproject.toml:3: tensorflow ~2.9"),
    ({"pyproject.toml": '[tool.poetry.group.ml.dependencies]\nkeras = { version = "^2.10" }\n'}, "2",
     "pyproject.toml:2: keras ^2.10"),
    ({"pyproject.toml": '[project.optional-dependencies]\ngpu = ["tensorflow-gpu==2.5"]\n'}, "2",
     "pyproject.toml:2: tensorflow-gpu==2.5"),
    ({"Pipfile": '[packages]\ntensorflow = "==2.7.0"\n'}, "2", "Pipfile:2: tensorflow==2.7.0"),
    ({"Pipfile": '[packages]\ntensorflow = {version = "*", index = "pypi"}\n'}, None, ""),
    ({"setup.cfg": "[metadata]\nname = x\n[options]\ninstall_requires =\n    numpy\n    tensorflow==2.3.0\n"}, "2",
     "setup.cfg:6: tensorflow==2.3.0"),
    ({"setup.py": "import setuptools\nsetuptools.setup(extras_require={'tf': ['tensorflow>=2.1,<2.3']})\n"}, "2",
     "setup.py:2: tensorflow>=2.1,<2.3"),
    ({"environment.yml": "dependencies:\n  - conda-forge::tensorflow 2.9.*\n"}, "2",
     "environment.yml:2: tensorflow=2.9.*"),
    ({"environment.yml": "dependencies:\n  - pip\n  - pip:\n    - tensorflow==2.17.0\n"}, "3",
     "environment.yml:4: tensorflow==2.17.0"),
    # A hard pin wins over an open one in an earlier source.
    ({"requirements.txt": "tensorflow>=2.0\n", "setup.py": "from setuptools import setup\n"
      "setup(install_requires=['tensorflow==2.8.0'])\n"}, "2", "setup.py:2: tensorflow==2.8.0"),
    # Nothing pinned.
    ({"requirements.txt": "numpy\ntorch\n"}, None, ""),
]


@pytest.mark.parametrize("files, keras, source", SOURCES, ids=[str(i) for i in range(len(SOURCES))])
def test_sources(tmp_path, files, keras, source):
    got = _judge(tmp_path, files)
    assert (got.keras, got.source) == (keras, source), got.notes


def test_later_sources_that_disagree_are_noted(tmp_path):
    got = _judge(tmp_path, {"requirements.txt": "tensorflow==2.10\n",
                            "pyproject.toml": '[project]\ndependencies = ["tensorflow>=2.16"]\n'})
    assert got.keras == "2"
    assert got.notes == ("pyproject.toml:2: tensorflow>=2.16 says Keras 3; requirements.txt:1 decides",)


@pytest.mark.parametrize("files, note", [
    ({"requirements.txt": b"tensorflow==2.1\xff\n"}, "requirements.txt: not UTF-8 text; skipped"),
    ({"pyproject.toml": "[project\n"}, "pyproject.toml: invalid TOML"),
    ({"setup.py": "setup(install_requires=[\n"}, "setup.py: not valid Python; skipped"),
    ({"setup.cfg": "[options]\ninstall_requires = file: requirements.in\n"}, "setup.cfg: install_requires is read"),
    ({"requirements.txt": "-r missing.txt\n"}, "requirements.txt:1: missing.txt does not exist"),
])
def test_unusable_sources_are_notes_not_errors(tmp_path, files, note):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    got = judge(tmp_path)
    assert got.keras is None
    assert any(n.startswith(note) for n in got.notes), got.notes


def test_include_cycles_end(tmp_path):
    got = _judge(tmp_path, {"requirements.txt": "-r other.txt\ntensorflow==2.9\n", "other.txt": "-r requirements.txt\n"})
    assert got.keras == "2"


# ------------------------------------------------------------------ the file's own markers


MARKERS = [
    ("import tf_keras\n", ("import", 1)),
    ("from tf_keras import layers\n", ("import", 1)),
    ("from tensorflow.python.keras.layers import Dense\n", ("import", 1)),
    ("from tensorflow.python import keras\n", ("import", 1)),
    ("import os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\n", ("env", 2)),
    ("# TF_USE_LEGACY_KERAS is not needed any more\nimport tensorflow as tf\n", None),
    ("# import tf_keras\n", None),
    ("x = 'import tf_keras'\n", None),
    ("import tf_kerasx\n", None),
    ("import tensorflow as tf, tf_keras\n", ("import", 1)),  # tf-models-official's spelling
    ("import numpy as np, tensorflow.python.keras as K\n", ("import", 1)),
    ("import tensorflow as tf, tf_keras_extra\n", None),
    ("!pip install -q tensorflow==2.10.0 keras-tuner\n", ("pip", 1)),
    ("%pip install 'tensorflow-gpu<2.16'\n", ("pip", 1)),
    ("pip install tensorflow-datasets\n", None),
    ("!pip install tensorflow==2.17\n", None),  # Keras 3: no sign of Keras 2
    ("!pip install -U tensorflow\n", None),
]


@pytest.mark.parametrize("text, found", MARKERS)
def test_markers(text, found):
    got = markers(text)
    assert (got[0][:2] if got else None) == found


def test_forced_target_wins_over_markers_and_keeps_the_unforced_facts():
    from dataclasses import replace

    settings = replace(Settings(), force_target_keras="3")
    facts = Inference(settings, infer=False).facts_for(None, "import tf_keras\n", "m.py")
    assert (facts.keras, facts.keras_forced, facts.keras_project) == ("3", True, "3")
    assert facts.keras_unforced is not None and facts.keras_unforced.keras == "2"
    assert facts.keras_unforced.keras_source == "m.py:1: import tf_keras"
    # tf_keras names stay Keras 2: they are that library whatever the target.
    assert facts.flavor_keras("tf_keras") == "2" and facts.flavor_keras("tf.keras") == "3"


def test_legacy_env_keeps_import_keras_on_keras_3():
    facts = Inference(Settings(), infer=False).facts_for(None, "import os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\n")
    assert facts.keras == "2" and facts.keras_project == "3"
    assert facts.flavor_keras("keras") == "3" and facts.flavor_keras("tf.keras") is None


def test_check_text_reads_nothing_from_disk(tmp_path, monkeypatch):
    from kerascheck.engine import check_text

    (tmp_path / "requirements.txt").write_text("tensorflow==2.6\n")
    source = "import tensorflow as tf\nx = tf.keras.Input((3,))\ny = tf.reduce_sum(x)\n"
    assert [f.code for f in check_text(source, tmp_path / "m.py")] == ["KC004"]
    assert check_text(source, tmp_path / "m.py", facts=ProjectFacts(keras="2", keras_project="2")) == []
