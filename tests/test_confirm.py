"""Confirm mode (`--confirm`): measured verdicts on the fixtures, isolation, exit codes.

The TensorFlow runs are marked `confirm` and shared per module (one CLI run per scenario):
about 3 minutes on 2 cores. Lint mode's freedom from TensorFlow is checked without it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kerascheck import registry
from kerascheck.confirm import COULD_NOT_BUILD, CONFIRMED, NOT_REPRODUCED
from kerascheck.confirm.jobs import has_recipe

ROOT = Path(__file__).resolve().parent.parent
HAS_TF = importlib.util.find_spec("tensorflow") is not None
HAS_TF_KERAS = importlib.util.find_spec("tf_keras") is not None

# Rule fixtures whose finding is expected NOT to be confirmed: (path, line) -> (verdict, evidence part).
# Every other finding of a rule that has a recipe must be `confirmed`. Only a missing third-party
# package is left for the default rules' fixtures: the Keras 2 code of the fixtures is confirmed with
# tf_keras. The new rules' exceptions are what their recipes cannot know:
NOT_CONFIRMED: dict[tuple[str, int], tuple[str, str]] = {
    # KC013: Attention.build() computes `int(dims[0])` (line 36, flagged too) before the flagged line 37.
    ("fixtures/kc013/custom_layers.py", 37): (COULD_NOT_BUILD, "raises at line 36, before the flagged line 37"),
    # KC014 (info): models loaded from files the fixture does not ship.
    ("fixtures/kc014/per_sample_loops.py", 77): (COULD_NOT_BUILD, "File not found: filepath=model.keras"),
    ("fixtures/kc014/per_sample_loops.py", 78): (COULD_NOT_BUILD, "No such file or directory"),
    ("fixtures/kc014/per_sample_loops.py", 79): (COULD_NOT_BUILD, "No such file or directory"),
}
# The opt-in (info) rules' fixtures run in a confirm run of their own, with them selected.
INFO_FIXTURES = ("fixtures/kc012", "fixtures/kc014")
if not HAS_TF_KERAS:
    for _key in (("fixtures/kc001/functional_models.py", 40),
                 ("fixtures/kc002/import_spellings.py", 67),
                 ("fixtures/kc002/legacy_keras.py", 67), ("fixtures/kc002/legacy_keras.py", 80),
                 ("fixtures/kc002/legacy_keras.py", 86),
                 ("fixtures/kc003/edge_cases.py", 76), ("fixtures/kc003/edge_cases.py", 88),
                 ("fixtures/kc003/monotonic_layers.py", 75), ("fixtures/kc003/monotonic_layers.py", 76),
                 ("fixtures/kc003/wgan_critic.py", 27), ("fixtures/kc003/wgan_critic.py", 30),
                 ("fixtures/kc003/wgan_critic.py", 31),
                 ("fixtures/kc004/legacy_env.py", 11),
                 ("fixtures/kc004/legacy_tf_keras.py", 12),
                 ("fixtures/kc004/model_inputs.py", 21), ("fixtures/kc004/model_inputs.py", 23)):
        NOT_CONFIRMED[_key] = (COULD_NOT_BUILD, "No module named 'tf_keras'")

# Findings of issue 11's fixtures that the recipes cannot build: a value known only when the
# code runs, a model file that does not exist.
NOT_CONFIRMED.update({
    ("fixtures/kc003/indirect_constraints.py", 7): (COULD_NOT_BUILD, "needs runtime data: name 'convex'"),
    ("fixtures/kc004/from_calls.py", 35): (COULD_NOT_BUILD, "File not found: filepath=classifier.keras"),
})

# fixtures/confirm/built_from_code.py: each finding confirmed, with what the evidence must say.
BUILT_FROM_CODE = {
    15: "the input shape from Input (line 12)",
    21: "the verdict depends on synthesised values: rate=0.5 (synthesised); input shape built with "
        "synthesised values: units=8",
    31: "(the shape from Input (line 35))",
    45: "the verdict depends on synthesised values: hidden=8 (synthesised), use_gate=False (synthesised)",
    51: "[M2]",
    53: "1 earlier op(s) that raise on KerasTensors even as a Lambda layer were replaced by a stand-in",
    55: "[M2]",
    57: "2 earlier op(s) that raise on KerasTensors even as a Lambda layer were replaced by a stand-in",
}
# What Keras 2 code is confirmed with, and why (the evidence says so).
KERAS2 = {
    ("fixtures/kc001/functional_models.py", 40): "the code uses tf_keras",
    ("fixtures/kc003/wgan_critic.py", 27): "`keras.backend.clip` exists only in Keras 2",
    ("fixtures/kc003/edge_cases.py", 88): "passes the name by position, as only Keras 2 accepts",
    ("fixtures/kc004/legacy_env.py", 11): "the file sets TF_USE_LEGACY_KERAS",
}

# fixtures/confirm/hostile.py: line -> (verdict, evidence part); run with a 5 s limit and 2 GB cap.
HOSTILE = {
    38: (COULD_NOT_BUILD, "time limit: no verdict after 5 s"),
    42: (COULD_NOT_BUILD, "the process was stopped"),
    46: (COULD_NOT_BUILD, "memory limit: the code needs more than the memory cap (2048 MB"),
    50: (COULD_NOT_BUILD, "sys.exit(3)"),
    54: (COULD_NOT_BUILD, "os._exit(4)"),
    58: (COULD_NOT_BUILD, "missing dependency: No module named 'kerascheck_no_such_dependency'"),
    62: (COULD_NOT_BUILD, "`UNITS` is set by module-level code (line 11)"),
    66: (CONFIRMED, "BN moving variance"),  # the run goes on after all of the above
}


def _cli(*args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=1500)


def _confirm_json(*paths: str, extra=(), env=None):
    proc = _cli("-m", "kerascheck", "check", "--confirm", "--no-cache", "--output-format", "json", *extra, *paths,
                env=env)
    assert proc.returncode in (0, 1), proc.stderr
    return proc, json.loads(proc.stdout)


# ------------------------------------------------------------------ no TensorFlow needed


def test_lint_never_imports_tensorflow():
    proc = _cli("-X", "importtime", "-m", "kerascheck", "check", "--no-cache", "fixtures")
    assert proc.returncode == 1, proc.stderr
    modules = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "kerascheck.engine" in modules  # -X importtime did report
    heavy = {m for m in modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras", "numpy")}
    assert not heavy, f"lint imported {sorted(heavy)[:5]}"
    assert not any(m.startswith("kerascheck.confirm.") for m in modules)


def test_confirm_without_tensorflow_says_how_to_install():
    code = ("import sys; sys.modules['tensorflow'] = None; from kerascheck.cli import main; "
            "sys.argv = ['kerascheck', 'check', '--confirm', 'fixtures/kc001']; main()")
    proc = _cli("-c", code)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("pip install tensorflow")


def test_help_documents_the_exit_code():
    proc = _cli("-m", "kerascheck", "check", "--help")
    text = " ".join(proc.stdout.split())
    assert "--confirm-timeout" in text and "--confirm-memory" in text
    assert "`not reproduced` does not count toward exit 1" in text
    assert "a finding that could not be built is never hidden" in text
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "`could not build` never hides a finding" in readme


def test_rule_listing_says_which_rules_confirm():
    listing = _cli("-m", "kerascheck", "rule", "--all").stdout.splitlines()
    for rule in registry.load():
        [line] = [ln for ln in listing if ln.startswith(rule.code + " ")]
        assert line.split()[2] == ("confirm" if has_recipe(rule.code) else "-"), line
    assert all(has_recipe(code) for code in ("KC001", "KC002", "KC003", "KC004", "KC005"))


def test_one_tensorflow_distribution_in_the_extras():
    """tf-keras requires `tensorflow`: an extra that also names `tensorflow-cpu` installs two."""
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    for name in ("confirm", "test"):
        names = {re.split(r"[<>=!;~\[ ]", req, maxsplit=1)[0].strip().lower() for req in extras[name]}
        assert {"tensorflow", "tf-keras"} <= names, (name, names)
        assert "tensorflow-cpu" not in names, (name, names)


def test_help_readme_and_rule_docs_say_what_runs():
    """Confirm mode runs the slice and the recipe, never other module-level code: said in
    `--help`, in the README and in each recipe's rule docs (issue 10, item 6)."""
    help_text = " ".join(_cli("-m", "kerascheck", "check", "--help").stdout.split())
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    for text in (help_text, readme):
        for phrase in ("decorators", "class bod", "__init__", "if __name__ == \"__main__\":",
                       "never", "KC004"):
            assert phrase in text, phrase
    assert "`__kerascheck_slice__`" in readme and "default argument values" in readme
    for rule in registry.load():
        if has_recipe(rule.code):
            doc = " ".join(rule.doc.split())
            assert "## Confirm mode" in rule.doc and ("README, Confirm mode" in doc or "body runs" in doc), rule.code


def test_text_output_prints_the_verdict_under_the_finding():
    import io

    from kerascheck.engine import RunResult
    from kerascheck.finding import FileResult, Finding
    from kerascheck.report import text

    f = Finding("KC001", "dropout-before-batchnorm", "msg", "a.py", 3, 1, 3, 5, "warning",
                confirm={"verdict": CONFIRMED, "evidence": "ratio 2.41", "seconds": 2.5},
                frame=("x = 1", "y = Dropout()"), frame_start=2)
    g = Finding("KC002", "dropout-ignores-training", "msg2", "a.py", 9, 1, 9, 5, "error",
                confirm={"verdict": COULD_NOT_BUILD, "evidence": "why", "seconds": 0.5},
                frame=("z = 2",), frame_start=9)
    out = io.StringIO()
    text.render(RunResult([FileResult("a.py", (f, g), parsed=True)], 0.1), out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("a.py:3:1: KC001")
    first = lines.index("  confirm: confirmed (2.5 s): ratio 2.41")
    # The verdict sits under its finding's code frame, before the blank line that separates findings.
    assert lines[first - 1].strip().startswith("|") and lines[first + 1] == ""
    assert lines[first + 2].startswith("a.py:9:1: KC002")
    second = lines.index("  confirm: could not build (0.5 s): why")
    assert lines[second + 1] == "" and lines[second + 2].startswith("Found 2 findings")


def test_summary_table_counts_verdicts_per_rule():
    from kerascheck.confirm.runner import Stats
    from kerascheck.confirm.summary import table
    from kerascheck.finding import Finding

    def made(code, verdict, seconds):
        return Finding(code, "n", "m", "a.py", 1, 1, 1, 2, "warning",
                       confirm={"verdict": verdict, "evidence": "e", "seconds": seconds})

    findings = [made("KC001", CONFIRMED, 1.0), made("KC001", COULD_NOT_BUILD, 3.0), made("KC005", NOT_REPRODUCED, 0.2)]
    stats = Stats(jobs=3, startups=2, startup_seconds=9.0, seconds=12.0,
                  verdicts={CONFIRMED: 1, COULD_NOT_BUILD: 1, NOT_REPRODUCED: 1},
                  versions={"3": [1, 4.0, "3.15.1"], "2": [1, 5.0, "2.21.0"]})
    lines = table(findings, stats).splitlines()
    assert lines[0] == "kerascheck: confirm: 1 confirmed, 1 could not build, 1 not reproduced in 12.0 s"
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:-1]}
    assert rows["KC001"] == ["1", "0", "1", "4.0", "2.00"]
    assert rows["KC005"] == ["0", "1", "0", "0.2", "0.20"]
    assert rows["all"] == ["1", "1", "1", "4.2", "1.00"]
    assert lines[-1] == "  TensorFlow start-up 9.0 s x2: Keras 3 (3.15.1) 4.0 s x1, Keras 2 (2.21.0) 5.0 s x1"


def test_synthesised_values_by_name_and_hint():
    from kerascheck.confirm.slice import synthesise

    table = {("units", None): "8", ("num_classes", None): "8", ("hidden_dim", None): "8", ("filters", None): "8",
             ("rate", None): "0.5", ("dropout_rate", None): "0.5", ("keep_prob", None): "0.8",
             ("activation", None): "None", ("use_bias", None): "False", ("flag", "bool"): "False",
             ("kernel_size", None): "3", ("pool_size", None): "2", ("strides", None): "1",
             ("seed", "int"): "8", ("alpha", "float"): "0.5", ("scale", "Optional[float]"): "0.5",
             ("inputs", None): None, ("x", None): None, ("name", None): None, ("config", "dict"): None,
             ("base_model", None): None, ("model", None): None, ("d_model", None): "8", ("dff", None): "8",
             ("maxlen", None): "8", ("input_shape", None): "(32, 32, 3)", ("batch_shape", None): None}
    for (name, hint), value in table.items():
        assert synthesise(name, hint) == value, (name, hint)


def _job_for(source: str, code: str, line: int, facts=None):
    from kerascheck.confirm.jobs import analyse, recipe
    from kerascheck.facts import DEFAULT

    [rule] = [r for r in registry.load() if r.code == code]
    analysis = analyse(source, "m.py", [rule], facts=facts or DEFAULT)
    [(key, hit)] = [(k, h) for k, h in analysis.hits.items() if k[1] == line]
    return recipe(code).job(hit, analysis.contexts[code], analysis.index)


def test_slicer_binds_what_the_flagged_code_reads_from_its_function():
    source = ("import keras\nfrom keras import layers\n\n"
              "def block(x, units, rate):\n"
              "    x = layers.Dense(units)(x)\n"
              "    x = layers.Dropout(rate)(x)\n"
              "    return layers.BatchNormalization()(x)\n\n"
              "def model(inputs):\n"
              "    h = block(inputs, 16, 0.4)\n"
              "    return h\n\n"
              "def lone(x, width: int):\n"
              "    drop = 0.2 + 0.1\n"
              "    x = layers.Dense(width)(x)\n"
              "    x = layers.Dropout(drop)(x)\n"
              "    return layers.BatchNormalization()(x)\n")
    job = _job_for(source, "KC001", 7)  # through model(): the call's own arguments
    assert job["locals"]["rate"] == "0.4" and "rate=0.4 (the call at line 10)" in job["given"]
    assert "synthesised" not in job
    job = _job_for(source, "KC001", 17)  # a local bound once; the type hint of `width`
    assert job["locals"]["drop"] == "0.2 + 0.1" and "drop" not in job["slice"]
    # `width` only sizes the Dense before the dropout: the input shape depends on it, not the verdict.
    assert job["locals"]["width"] == "8" and job["synthesised_shape"] == ["width=8"] and "synthesised" not in job
    assert job["shapes"] and job["shapes"][0]["layer"] == "layers.Dense(width)"


def test_slicer_never_binds_values_that_read_data():
    source = ("import numpy as np\nimport keras\nfrom keras import layers\n\n"
              "def build(path):\n"
              "    data = np.load(path)\n"
              "    rate = float(data.mean())\n"
              "    return keras.Sequential([layers.Dropout(rate), layers.BatchNormalization()])\n")
    job = _job_for(source, "KC001", 8)
    assert "rate" not in job["locals"] and "data" not in job["locals"]


def test_keras_version_of_a_job():
    from kerascheck.facts import ProjectFacts

    keras3 = ("import keras\nfrom keras import layers\n"
              "model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")
    assert _job_for(keras3, "KC001", 3)["keras"] == "3"
    job = _job_for(keras3, "KC001", 3, ProjectFacts(keras="2", keras_source="pyproject.toml pins tensorflow<2.16"))
    assert job["keras"] == "2" and job["keras_alias"] and "targets Keras 2" in job["keras_why"]
    legacy = keras3.replace("import keras\nfrom keras import layers", "import tf_keras as keras\nfrom tf_keras import layers")
    assert _job_for(legacy, "KC001", 3)["keras"] == "2"
    env = "import os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\n" + keras3
    assert _job_for(env, "KC001", 5)["keras"] == "2"
    mention = '"""Mentions TF_USE_LEGACY_KERAS, sets nothing."""\n' + keras3
    assert _job_for(mention, "KC001", 4)["keras"] == "3"
    backend = ("from keras import backend as K\nfrom keras import layers\nimport keras\n"
               "def clip(w):\n    return K.clip(w, 0, 1)\n"
               "model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")
    job = _job_for(backend, "KC001", 6)
    assert job["keras"] == "2" and job["keras_alias"] and "`keras.backend.clip` exists only in Keras 2" in job["keras_why"]


def test_slice_keeps_imports_definitions_and_constants_only():
    from kerascheck.confirm.slice import make_slice

    text = ("import os\nimport keras\nfrom keras import layers\nRATE = 0.5\nDATA = load()\n"
            "def helper():\n    return RATE\n\ndef unused():\n    return DATA\n"
            "model = keras.Sequential([layers.Dropout(helper())])\nmodel.fit(DATA)\n")
    source, skipped = make_slice(text, {"layers", "helper", "DATA"})
    kept = [ln for ln in source.splitlines() if ln.strip()]
    assert kept == ["from keras import layers", "RATE = 0.5", "def helper():", "    return RATE"]
    assert skipped == {"DATA": 5}
    assert len(source.splitlines()) == len(text.splitlines())  # line numbers preserved


# ------------------------------------------------------------------ with TensorFlow


CONFIRM_EXTRA = ("fixtures/confirm/built_from_code.py", "fixtures/confirm/legacy_env_leak.py")
HOSTILE_RUN = ("fixtures/confirm/hostile.py", "fixtures/confirm/toplevel_training.py",
               "fixtures/confirm/rate_from_constant.py", "fixtures/confirm/init_writes_file.py",
               "fixtures/confirm/build_allocates.py", "fixtures/confirm/formfeed_lines.py")


@pytest.fixture(scope="module")
def rule_fixtures_run():
    paths = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "fixtures").iterdir()
                   if p.is_dir() and p.name.startswith("kc"))
    # The shell asks for legacy Keras: the children pin their own TF_USE_LEGACY_KERAS.
    return _confirm_json(*paths, *CONFIRM_EXTRA, env={"TF_USE_LEGACY_KERAS": "1"})


@pytest.fixture(scope="module")
def info_fixtures_run():
    codes = sorted("KC" + Path(p).name[2:] for p in INFO_FIXTURES)
    return _confirm_json(*INFO_FIXTURES, extra=("--select", ",".join(codes)))


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("confirm")
    marker = tmp / "marker.txt"
    log = tmp / "init.log"
    temp = tmp / "tmpdir"
    temp.mkdir()
    proc, findings = _confirm_json(*HOSTILE_RUN, extra=("--confirm-timeout", "5", "--confirm-memory", "2048"),
                                   env={"KERASCHECK_MARKER": str(marker), "TMPDIR": str(temp),
                                        "KERASCHECK_INIT_LOG": str(log)})
    return proc, findings, marker, temp, log


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_rule_fixtures_verdicts(rule_fixtures_run):
    proc, findings = rule_fixtures_run
    with_recipe = {r.code for r in registry.load() if has_recipe(r.code)}
    assert findings, "the rule fixtures have findings"
    seen = set()
    for f in findings:
        c = f["confirm"]
        assert set(c) == {"verdict", "evidence", "seconds"}
        assert c["evidence"] and "\n" not in c["evidence"]
        key = (f["path"], f["line"])
        if f["path"] in CONFIRM_EXTRA:
            continue
        if f["code"] not in with_recipe:
            assert c["verdict"] == COULD_NOT_BUILD and "no confirm recipe" in c["evidence"], f
            continue
        verdict, part = NOT_CONFIRMED.get(key, (CONFIRMED, ""))
        assert c["verdict"] == verdict and part in c["evidence"], (key, c)
        # Measured in the child; only a recipe's own `job` reason (a string) takes no time.
        assert c["seconds"] > 0 or (key in NOT_CONFIRMED and verdict == COULD_NOT_BUILD), (key, c)
        seen.add(key)
    info = {key for key in NOT_CONFIRMED if key[0].startswith(INFO_FIXTURES)}
    assert set(NOT_CONFIRMED) - info <= seen, "a NOT_CONFIRMED entry no longer matches a finding"
    # TensorFlow starts once per Keras version: Keras 3, and Keras 2 for the tf_keras fixtures.
    assert re.search(r"Keras 3 \([\d.]+\) [\d.]+ s x1\b", proc.stderr), proc.stderr
    if HAS_TF_KERAS:
        assert re.search(r"Keras 2 \([\d.]+\) [\d.]+ s x1\b", proc.stderr), proc.stderr
    assert proc.returncode == 1


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_info_rule_fixtures_verdicts(info_fixtures_run):
    """KC012 and KC014 are opt-in: their fixtures run with them selected, and every finding is
    confirmed but for the NOT_CONFIRMED entries."""
    proc, findings = info_fixtures_run
    codes = {f["code"] for f in findings}
    assert {"KC012", "KC014"} <= codes
    seen = set()
    for f in findings:
        if f["code"] not in ("KC012", "KC014"):
            continue
        key = (f["path"], f["line"])
        verdict, part = NOT_CONFIRMED.get(key, (CONFIRMED, ""))
        assert f["confirm"]["verdict"] == verdict and part in f["confirm"]["evidence"], (key, f["confirm"])
        seen.add(key)
    assert {key for key in NOT_CONFIRMED if key[0].startswith(INFO_FIXTURES)} <= seen
    confirmed = {f["code"]: f["confirm"]["evidence"] for f in findings if f["confirm"]["verdict"] == CONFIRMED}
    assert "|grad bias| / |grad kernel| = " in confirmed["KC012"]
    assert "ms per sample with one sample per predict() call" in confirmed["KC014"]


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_the_run_ends_with_a_table_per_rule(rule_fixtures_run):
    proc, findings = rule_fixtures_run
    lines = proc.stderr.strip().splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["rule"])
    assert lines[header].split() == ["rule", "confirmed", "not", "reproduced", "could", "not", "build",
                                     "seconds", "median", "s"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[header + 1:] if line.startswith("  KC")
            or line.startswith("  all")}
    for code in {f["code"] for f in findings}:
        mine = [f for f in findings if f["code"] == code]
        counts = [sum(f["confirm"]["verdict"] == v for f in mine) for v in (CONFIRMED, NOT_REPRODUCED,
                                                                            COULD_NOT_BUILD)]
        assert [int(n) for n in rows[code][:3]] == counts, (code, rows[code])
    assert int(rows["all"][0]) == sum(f["confirm"]["verdict"] == CONFIRMED for f in findings)
    assert lines[-1].lstrip().startswith("TensorFlow start-up")


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_kc009_and_kc013_evidence(rule_fixtures_run):
    _, findings = rule_fixtures_run
    kc009 = [f["confirm"] for f in findings if f["code"] == "KC009"]
    assert kc009 and all(c["verdict"] == CONFIRMED for c in kc009)
    assert all("of one batch's own noise" in c["evidence"] for c in kc009)
    kc013 = [f["confirm"]["evidence"] for f in findings if f["code"] == "KC013" and f["confirm"]["verdict"] == CONFIRMED]
    assert len(kc013) >= 9
    assert all("must be fully-defined" in e or "'NoneType'" in e for e in kc013)
    # The batch-dimension variant: fails symbolically, builds eagerly on a fixed batch (N4.2).
    assert any("called eagerly on a batch of 2 it builds" in e for e in kc013)


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_built_from_what_the_code_says(rule_fixtures_run):
    """Input shapes from Input(...) and the layers between, synthesised constructor arguments and
    parameters, and KC004 ops after an earlier op that fails even as a layer: all confirmed."""
    _, findings = rule_fixtures_run
    got = {f["line"]: f["confirm"] for f in findings if f["path"] == "fixtures/confirm/built_from_code.py"}
    assert set(got) == set(BUILT_FROM_CODE)
    for line, part in BUILT_FROM_CODE.items():
        assert got[line]["verdict"] == CONFIRMED and part in got[line]["evidence"], (line, got[line])


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF or not HAS_TF_KERAS, reason="needs TensorFlow and tf_keras")
def test_keras2_code_is_confirmed_with_keras2(rule_fixtures_run):
    _, findings = rule_fixtures_run
    got = {(f["path"], f["line"]): f["confirm"] for f in findings}
    for key, why in KERAS2.items():
        assert got[key]["verdict"] == CONFIRMED, (key, got[key])
        assert "built with Keras 2 (tf_keras" in got[key]["evidence"] and why in got[key]["evidence"], got[key]
    for key, c in got.items():  # Keras 3 code says nothing about it
        if key[0] in ("fixtures/kc001/sequential_styles.py", "fixtures/confirm/legacy_env_leak.py"):
            assert "Keras 2" not in c["evidence"], (key, c)


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_the_shell_cannot_switch_the_childs_keras(rule_fixtures_run):
    """The run's shell sets TF_USE_LEGACY_KERAS=1; `tf.keras` code for Keras 3 is still built with
    Keras 3, where the TF op raises (with Keras 2 it would run as a layer)."""
    _, findings = rule_fixtures_run
    [f] = [f for f in findings if f["path"] == "fixtures/confirm/legacy_env_leak.py"]
    assert f["confirm"]["verdict"] == CONFIRMED and "[M1]" in f["confirm"]["evidence"], f["confirm"]


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_kc001_evidence_is_the_variance_ratio(rule_fixtures_run):
    _, findings = rule_fixtures_run
    confirmed = [f for f in findings if f["code"] == "KC001" and f["confirm"]["verdict"] == CONFIRMED]
    assert len(confirmed) >= 15
    for f in confirmed:
        assert "BN moving variance / variance of its input at inference = " in f["confirm"]["evidence"]


# The training set-up rules: every finding of their fixtures is confirmed by the measurement the
# rule's docs describe (the loss against the network's logits, the loss stuck at 0 or the output
# stuck at 1, accuracy 0.000 at a perfect fit, the double squash behind tf.identity, predict() rows that
# are not probabilities, a softmax that never predicts two labels).
TRAINING_EVIDENCE = {
    "KC006": ("the same outputs as logits (from_logits=True)", 10),
    "KC007": (("from 1.0", "loss 0.000000 before and 0.000000 after", "outside the valid range"), 9),
    "KC010": ("accuracy 0.000 at R^2 1.000", 6),
    "KC011": ("as JAX/PyTorch compute it (behind tf.identity)", 4),
    "KC019": ("of them within 0.05 of 1 (< 90%)", 8),  # predict() rows are not probability rows
    "KC020": ("at most 1 label(s) predicted per row at 0.5", 7),  # a softmax cannot say two labels
}


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_training_rules_evidence(rule_fixtures_run):
    _, findings = rule_fixtures_run
    for code, (parts, least) in TRAINING_EVIDENCE.items():
        parts = (parts,) if isinstance(parts, str) else parts
        mine = [f for f in findings if f["code"] == code]
        assert len(mine) >= least, (code, len(mine))
        for f in mine:
            c = f["confirm"]
            assert c["verdict"] == CONFIRMED and any(p in c["evidence"] for p in parts), (f["path"], f["line"], c)
            assert "W1 observed" in c["evidence"] or code != "KC011", c  # the TensorFlow backend's warning


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_clean_lookalikes_are_not_reproduced():
    """Each recipe on its rule's clean look-alikes (`confirm_lookalikes`), in one child process."""
    from kerascheck.confirm.jobs import analyse, recipe
    from kerascheck.confirm.runner import run_jobs

    jobs = []
    for rule in registry.load():
        make = getattr(recipe(rule.code), "lookalikes", None)
        if make is None:
            continue
        found = 0
        for path in sorted((ROOT / "fixtures" / rule.code.lower()).glob("*.py")):
            text = path.read_text(encoding="utf-8")
            analysis = analyse(text, str(path), [rule])
            for job in make(analysis.contexts[rule.code], analysis.index):
                jobs.append({**job, "rule": rule.code, "path": str(path)})
                found += 1
        assert found >= 3, f"{rule.code}: too few clean look-alikes in its fixtures"
    verdicts, stats = run_jobs(jobs)
    assert stats.startups == len({str(j.get("keras", "3")) for j in jobs})  # one per Keras version
    for job, v in zip(jobs, verdicts):
        assert v.verdict == NOT_REPRODUCED, (job["path"], job.get("chain") or job.get("call"), v)


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_hostile_code_gives_could_not_build_and_the_run_goes_on(hostile_run):
    proc, findings, marker, temp, log = hostile_run
    got = {f["line"]: f["confirm"] for f in findings if f["path"] == "fixtures/confirm/hostile.py"}
    assert set(got) == set(HOSTILE)
    for line, (verdict, part) in HOSTILE.items():
        assert got[line]["verdict"] == verdict and part in got[line]["evidence"], (line, got[line])


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_module_level_code_never_runs(hostile_run):
    proc, findings, marker, temp, log = hostile_run
    top = [f for f in findings if f["path"] == "fixtures/confirm/toplevel_training.py"]
    assert [f["confirm"]["verdict"] for f in top] == [CONFIRMED]
    # A form feed line before module-level code: the slice used to be one line off and ran it.
    formfeed = [f for f in findings if f["path"] == "fixtures/confirm/formfeed_lines.py"]
    assert [(f["line"], f["confirm"]["verdict"]) for f in formfeed] == [(13, CONFIRMED)]
    assert not marker.exists(), "module-level code ran"
    assert not (ROOT / "module-level-code-ran.txt").exists()
    assert list(temp.iterdir()) == [], "the temporary directory was not removed"


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_only_the_flagged_class_runs_in_a_removed_working_directory(hostile_run):
    """fixtures/confirm/init_writes_file.py: `Writes.__init__` writes a file into its working
    directory and logs where it ran; nothing else of the file (another class, module-level code)
    runs, and the working directory is gone afterwards."""
    proc, findings, marker, temp, log = hostile_run
    [f] = [f for f in findings if f["path"] == "fixtures/confirm/init_writes_file.py"]
    assert f["confirm"]["verdict"] == CONFIRMED, f["confirm"]
    entries = [line.split(" ", 1) for line in log.read_text(encoding="utf-8").splitlines()]
    assert entries and {what for what, _ in entries} == {"flagged"}, entries  # only the flagged class ran
    for _, where in entries:
        assert Path(where).parent == temp, where  # in the run's temporary working directory ...
        assert not Path(where).exists(), where  # ... which is removed, with the file __init__ wrote
    assert not marker.exists() and not (ROOT / "not-flagged-class-ran.txt").exists()
    assert not (ROOT / "written-by-init.txt").exists()


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_memory_cap_stops_a_2gb_build(hostile_run):
    _, findings, _, _, _ = hostile_run
    [f] = [f for f in findings if f["path"] == "fixtures/confirm/build_allocates.py"]
    assert f["confirm"]["verdict"] == COULD_NOT_BUILD
    assert f["confirm"]["evidence"].startswith("memory limit: the code needs more than the memory cap (2048 MB"), f


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_not_reproduced_does_not_count_toward_exit_1(hostile_run):
    _, findings, _, _, _ = hostile_run
    [f] = [f for f in findings if f["path"] == "fixtures/confirm/rate_from_constant.py"]
    assert f["confirm"]["verdict"] == NOT_REPRODUCED and "= 0.9" in f["confirm"]["evidence"]
    assert _cli("-m", "kerascheck", "check", "--no-cache", "fixtures/confirm/rate_from_constant.py").returncode == 1
    proc = _cli("-m", "kerascheck", "check", "--no-cache", "--confirm", "fixtures/confirm/rate_from_constant.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "confirm: not reproduced" in proc.stdout


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_without_tf_keras_keras2_code_is_a_missing_dependency(tmp_path):
    """tf_keras hidden from both processes: Keras 2 code gives `could not build: missing dependency`
    (and counts toward exit 1), the Keras 3 code in the same run is still confirmed, no second child starts."""
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n\nclass _NoTfKeras:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'tf_keras' or name.startswith('tf_keras.'):\n"
        "            raise ModuleNotFoundError(f\"No module named '{name}'\", name=name)\n\n"
        "sys.meta_path.insert(0, _NoTfKeras())\n", encoding="utf-8")
    proc, findings = _confirm_json("fixtures/kc003/wgan_critic.py", "fixtures/confirm/legacy_env_leak.py",
                                   env={"PYTHONPATH": str(tmp_path)})
    got = {(f["path"], f["line"]): f["confirm"] for f in findings}
    for line in (27, 30, 31):
        c = got[("fixtures/kc003/wgan_critic.py", line)]
        assert c["verdict"] == COULD_NOT_BUILD and "missing dependency: No module named 'tf_keras'" in c["evidence"]
    assert got[("fixtures/confirm/legacy_env_leak.py", 9)]["verdict"] == CONFIRMED
    assert "Keras 2 (" not in proc.stderr and proc.returncode == 1


def test_a_helper_parameter_with_a_default_takes_what_the_inlining_call_passes():
    """`block(x, filters, dropout_rate=0)` called as `block(x, filters, rate)` inside
    `stage(x, 64, 0.3)`: the job binds 0.3 through both calls, not the default 0 (the
    recipe then measures the Dropout the finding names: confirmed, not "not reproduced")."""
    from kerascheck.confirm.jobs import analyse, recipe

    [rule] = [r for r in registry.load() if r.code == "KC001"]
    path = ROOT / "fixtures" / "kc001" / "call_site_values.py"
    analysis = analyse(path.read_text(encoding="utf-8"), str(path), [rule])
    ctx = analysis.contexts["KC001"]
    [hit] = [h for h in rule.check(ctx) if ctx.code(h.node).startswith("stage(x, 64, 0.3)")]
    job = recipe("KC001").job(hit, ctx, analysis.index)
    assert job["locals"]["dropout_rate"] == "rate" and job["locals"]["rate"] == "0.3"
    assert "rate=0.3 (the call at line 38)" in job["given"]
