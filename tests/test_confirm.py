"""Confirm mode (`--confirm`): measured verdicts on the fixtures, isolation, exit codes.

The TensorFlow runs are marked `confirm` and shared per module (one CLI run per scenario):
about 3 minutes on 2 cores. Lint mode's freedom from TensorFlow is checked without it.
"""

from __future__ import annotations

import importlib.util
import json
import os
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
# Every other finding of a rule that has a recipe must be `confirmed`.
NOT_CONFIRMED = {
    ("fixtures/kc001/functional_models.py", 51): (COULD_NOT_BUILD, "name 'rate' is not defined"),
    # KC003: the tutorial's ClipConstraint calls standalone `keras.backend.clip`, which Keras 3 no
    # longer has: applying the constraint raises, as the first optimizer step would.
    ("fixtures/kc003/wgan_critic.py", 27): (COULD_NOT_BUILD, "has no attribute 'clip' (line 16)"),
    ("fixtures/kc003/wgan_critic.py", 30): (COULD_NOT_BUILD, "has no attribute 'clip' (line 16)"),
    ("fixtures/kc003/wgan_critic.py", 31): (COULD_NOT_BUILD, "has no attribute 'clip' (line 16)"),
    # KC003: Frozen.build() reads an unset `self.s` (line 86), and Keras 3 rejects the flagged
    # `add_weight("gate", ...)` itself (name by position): the weight cannot be made.
    ("fixtures/kc003/edge_cases.py", 88): (COULD_NOT_BUILD, "`name` must be passed as a keyword argument"),
    # KC002: `NoisyDense(units, ...)` and `Classifier(num_classes)` have required constructor
    # arguments and the fixture never constructs them: the recipe does not guess sizes.
    ("fixtures/kc002/subclassed_tf.py", 13): (COULD_NOT_BUILD, "`NoisyDense.__init__` needs `units`"),
    ("fixtures/kc002/subclassed_tf.py", 41): (COULD_NOT_BUILD, "`Classifier.__init__` needs `num_classes`"),
    # KC004: the flagged `keras.Model(np.zeros((1, width)), ...)` is in `Wide.__init__(self, width)`,
    # which nothing in the fixture constructs: no call site with literal arguments to run it by.
    ("fixtures/kc004/model_inputs.py", 34): (COULD_NOT_BUILD, "needs runtime data (parameter width of __init__()"),
}
if not HAS_TF_KERAS:
    NOT_CONFIRMED[("fixtures/kc001/functional_models.py", 40)] = (COULD_NOT_BUILD, "No module named 'tf_keras'")
    for _key in (("fixtures/kc003/edge_cases.py", 76), ("fixtures/kc003/monotonic_layers.py", 75),
                 ("fixtures/kc003/monotonic_layers.py", 76)):
        NOT_CONFIRMED[_key] = (COULD_NOT_BUILD, "No module named 'tf_keras'")
    for _key in (("fixtures/kc002/import_spellings.py", 67), ("fixtures/kc002/legacy_keras.py", 67),
                 ("fixtures/kc002/legacy_keras.py", 80), ("fixtures/kc002/legacy_keras.py", 86)):
        NOT_CONFIRMED[_key] = (COULD_NOT_BUILD, "No module named 'tf_keras'")
    for _key in (("fixtures/kc004/legacy_env.py", 11), ("fixtures/kc004/legacy_tf_keras.py", 12),
                 ("fixtures/kc004/model_inputs.py", 21), ("fixtures/kc004/model_inputs.py", 23)):
        NOT_CONFIRMED[_key] = (COULD_NOT_BUILD, "No module named 'tf_keras'")

# fixtures/confirm/hostile.py: line -> (verdict, evidence part); run with a 5 s limit and 2 GB cap.
HOSTILE = {
    38: (COULD_NOT_BUILD, "time limit: no verdict after 5 s"),
    42: (COULD_NOT_BUILD, "the process was stopped"),
    46: (COULD_NOT_BUILD, "memory cap exceeded (2048 MB"),
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
    proc = _cli("-m", "kerascheck", "check", "--confirm", "--no-cache", "--format", "json", *extra, *paths,
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
    assert len(lines) == 1 and "pip install kerascheck[confirm]" in lines[0]


def test_help_documents_the_exit_code():
    proc = _cli("-m", "kerascheck", "check", "--help")
    text = " ".join(proc.stdout.split())
    assert "--confirm-timeout" in text and "--confirm-memory" in text
    assert "`not reproduced` does not count toward exit 1" in text


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
                confirm={"verdict": CONFIRMED, "evidence": "ratio 2.41", "seconds": 2.5})
    out = io.StringIO()
    text.render(RunResult([FileResult("a.py", (f,), parsed=True)], 0.1), out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("a.py:3:1: KC001")
    assert "  confirm: confirmed (2.5 s): ratio 2.41" in lines


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


@pytest.fixture(scope="module")
def rule_fixtures_run():
    paths = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "fixtures").iterdir()
                   if p.is_dir() and p.name.startswith("kc"))
    return _confirm_json(*paths)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("confirm")
    marker = tmp / "marker.txt"
    temp = tmp / "tmpdir"
    temp.mkdir()
    proc, findings = _confirm_json("fixtures/confirm", extra=("--confirm-timeout", "5", "--confirm-memory", "2048"),
                                   env={"KERASCHECK_MARKER": str(marker), "TMPDIR": str(temp)})
    return proc, findings, marker, temp


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
        if f["code"] not in with_recipe:
            assert c["verdict"] == COULD_NOT_BUILD and "no confirm recipe" in c["evidence"], f
            continue
        verdict, part = NOT_CONFIRMED.get(key, (CONFIRMED, ""))
        assert c["verdict"] == verdict and part in c["evidence"], (key, c)
        # Measured in the child; only a recipe's own `confirm_job` reason (a string) takes no time.
        assert c["seconds"] > 0 or (key in NOT_CONFIRMED and verdict == COULD_NOT_BUILD), (key, c)
        seen.add(key)
    assert set(NOT_CONFIRMED) <= seen, "a NOT_CONFIRMED entry no longer matches a finding"
    assert "TensorFlow start-up" in proc.stderr and "x1)" in proc.stderr  # one start-up per run
    assert proc.returncode == 1


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_kc001_evidence_is_the_variance_ratio(rule_fixtures_run):
    _, findings = rule_fixtures_run
    confirmed = [f for f in findings if f["code"] == "KC001" and f["confirm"]["verdict"] == CONFIRMED]
    assert len(confirmed) >= 15
    for f in confirmed:
        assert "BN moving variance / variance of its input at inference = " in f["confirm"]["evidence"]


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
    assert stats.startups == 1
    for job, v in zip(jobs, verdicts):
        assert v.verdict == NOT_REPRODUCED, (job["path"], job.get("chain"), v)


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_hostile_code_gives_could_not_build_and_the_run_goes_on(hostile_run):
    proc, findings, marker, temp = hostile_run
    got = {f["line"]: f["confirm"] for f in findings if f["path"] == "fixtures/confirm/hostile.py"}
    assert set(got) == set(HOSTILE)
    for line, (verdict, part) in HOSTILE.items():
        assert got[line]["verdict"] == verdict and part in got[line]["evidence"], (line, got[line])


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed: pip install -e '.[test]'")
def test_module_level_code_never_runs(hostile_run):
    proc, findings, marker, temp = hostile_run
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
def test_not_reproduced_does_not_count_toward_exit_1(hostile_run):
    _, findings, _, _ = hostile_run
    [f] = [f for f in findings if f["path"] == "fixtures/confirm/rate_from_constant.py"]
    assert f["confirm"]["verdict"] == NOT_REPRODUCED and "= 0.9" in f["confirm"]["evidence"]
    assert _cli("-m", "kerascheck", "check", "--no-cache", "fixtures/confirm/rate_from_constant.py").returncode == 1
    proc = _cli("-m", "kerascheck", "check", "--no-cache", "--confirm", "fixtures/confirm/rate_from_constant.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "confirm: not reproduced" in proc.stdout
