"""The rule contract: rules are found by discovery, import only `kerascheck.rule`, carry their
docs in the usual form, and the README's rules table lists exactly them. Lint never imports a
confirm recipe, and the in-memory API keeps no state and touches no disk."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kerascheck import registry
from kerascheck.rule import SEVERITIES, Rule

ROOT = Path(__file__).resolve().parent.parent
RULE_FILES = sorted((ROOT / "rules").glob("kc*.py"))
SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")


def test_every_rule_module_is_discovered():
    codes = {r.code for r in registry.load()}
    assert codes == {"KC" + p.name[2:5] for p in RULE_FILES}
    assert all(r.check is not None and r.module is not None for r in registry.load())


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.name for p in RULE_FILES])
def test_rules_import_only_the_contract(path):
    """A rule imports kerascheck.rule and nothing else of kerascheck (libcst and the standard
    library are fine): what it needs from the engine belongs in the shared model."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            used.add(node.module or "")
        elif isinstance(node, ast.Import):
            used.update(a.name for a in node.names)
    ours = {m for m in used if m == "kerascheck" or m.startswith("kerascheck.")}
    assert ours == {"kerascheck.rule"}, f"{path.name} imports {sorted(ours)}"
    assert not any(m == "rules" or m.startswith("rules.") for m in used)


@pytest.mark.parametrize("rule", registry.load(), ids=lambda r: r.code)
def test_rule_shape(rule: Rule):
    assert rule.severity in SEVERITIES
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", rule.name), "names are kebab-case"
    doc = rule.doc
    positions = [doc.find(s) for s in SECTIONS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), \
        f"{rule.code}: the docs need {SECTIONS} in that order"
    assert rule.valid and rule.invalid, "VALID and INVALID examples"
    assert rule.anchors, "anchors tell the engine which functions the rule needs parsed"


def _readme_rules() -> dict[str, tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Rules\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"KC\d{3}", cells[0]):
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_readme_rules_table_matches_the_rules():
    rows = _readme_rules()
    assert set(rows) == {r.code for r in registry.all_rules()}
    for rule in registry.all_rules():
        name, what = rows[rule.code]
        assert name == rule.name, rule.code
        if rule.module is not None:
            assert what.startswith(f"{rule.severity}:"), f"{rule.code}: the table gives the severity first"


def test_lint_never_imports_a_recipe_or_tensorflow():
    code = ("import sys\nfrom kerascheck.cli import main\nsys.argv = ['kerascheck', 'check', 'fixtures', "
            "'--no-cache', '--statistics', '--jobs', '1']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "bad = sorted(m for m in sys.modules if m.startswith(('kerascheck.rules.confirm', 'kerascheck.confirm'))"
            " or m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))\n"
            "loaded = [m for m in sys.modules if m.startswith('kerascheck.rules.kc')]\n"
            "print(bad, len(loaded))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    bad, loaded = out.strip().splitlines()[-1].rsplit(" ", 1)
    assert bad == "[]" and int(loaded) >= 5


def test_check_text_touches_no_disk_and_keeps_no_state(tmp_path, monkeypatch):
    from kerascheck.engine import check_text

    monkeypatch.chdir(tmp_path)
    source = ("import keras\nfrom keras import layers\n"
              "m = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")
    limit = sys.getrecursionlimit()
    first = check_text(source, path="nowhere/model.py")
    second = check_text(source, path="nowhere/model.py")
    assert [(f.code, f.line, f.column) for f in first] == [("KC001", 3, 44)]
    assert first == second
    assert sys.getrecursionlimit() == limit
    assert list(tmp_path.iterdir()) == [], "check_text wrote something"


def test_check_text_reads_notebooks_and_applies_per_file_ignores():
    import json

    from kerascheck.config import Settings
    from kerascheck.engine import check_text

    cell = "import keras\nfrom keras import layers\nm = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n"
    nb = json.dumps({"cells": [{"cell_type": "code", "source": cell, "metadata": {}, "outputs": []}],
                     "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    [f] = check_text(nb, path="nb.ipynb")
    assert (f.code, f.cell, f.line) == ("KC001", 1, 3)
    settings = Settings(root=Path("/proj"), per_file_ignores=(("tests/*", ("KC001",)),))
    assert check_text(cell, path="/proj/tests/t.py", settings=settings) == []
    assert check_text(cell, path="/proj/src/t.py", settings=settings)


# -- the prefilter and the anchors a rule declares ---------------------------------------------


@pytest.mark.parametrize(("needs", "data", "expected"), [
    ((b"Dropout",), b"x = Dropout(0.5)", True),
    ((b"Dropout",), b"x = Dense(4)", False),
    (((b"compile", b"mse"), (b"compile", b"mae")), b"m.compile(loss='mae')", True),
    (((b"compile", b"mse"), (b"compile", b"mae")), b"loss='mae'", False),
    (((b"save", b"import keras\n"), (b"lr=", b"import keras\n")), b"import keras\nAdam(lr=1)", True),
    (((b"save", b"from keras.src"),), b"from keras.src import x\n", False),
    ((b"\nimport tensorflow",), b"import tensorflow as tf\n", True),  # a leading line break matches at the start
    ((b"\nimport tensorflow",), b"# import tensorflow\n", False),
])
def test_prefilter_groups(needs, data, expected):
    rule = Rule("KC999", "test", "m", needs=needs)
    assert rule.wanted(data) is expected
    seen: dict[bytes, bool] = {}
    assert rule.wanted(data, seen) is expected and rule.wanted(data, seen) is expected  # shared look-ups


@pytest.mark.parametrize(("source", "anchor", "expected"), [
    ("import keras\n", "keras.backend.*@api", ("keras._tf_keras.keras.backend.", "keras.backend.")),
    ("from keras import backend as K\n", "keras.backend.*@api", ("K.",)),
    ("from keras import backend as K\n", "keras.backend.*@3", ("K.",)),
    # Keras's own modules: `@3` counts them, `@api` does not.
    ("from keras.src import backend\n", "keras.backend.*@3", ("backend.",)),
    ("from keras.src import backend\n", "keras.backend.*@api", ()),
    # tf_keras is Keras 2: neither counts it.
    ("from tf_keras import backend as K\n", "keras.backend.*@api", ()),
    ("from tf_keras import backend as K\n", "keras.backend.*", ("K.",)),
])
def test_anchor_words_follow_the_flavor_suffixes(source, anchor, expected):
    from kerascheck.parse import anchor_words

    rule = Rule("KC999", "test", "m", anchors=(anchor,))
    assert anchor_words(ast.parse(source), [rule]) == expected


TIES = '''import keras


class Scale(keras.layers.Layer):
    def __init__(self, units):
        super().__init__()
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(None, self.units))
        self.k = shape_of(input_shape)

    def call(self, x):
        return helper(x) * self.w


def helper(x):
    return x


def shape_of(shape):
    return shape
'''


def test_rules_without_ties_parse_only_the_functions_that_use_an_anchor():
    from kerascheck.parse import parse_relevant

    names = ("__init__", "build", "call", "helper", "shape_of")

    def kept(*rules: Rule) -> set[str]:
        code = parse_relevant(TIES, "t.py", list(rules)).module.code
        return {name for name in names if f"def {name}(" in code}

    tied = Rule("KC999", "test", "m", anchors=(".add_weight",))
    alone = Rule("KC998", "test", "m", anchors=(".add_weight",), ties=False)
    # With ties: the structural methods of the class, what they call, what build() calls.
    assert kept(tied) == set(names)
    # Without: build() alone, not even the helper it calls.
    assert kept(alone) == {"build"}
    # A tied rule whose word is elsewhere keeps its own closure, not build()'s.
    assert kept(alone, Rule("KC997", "test", "m", anchors=("=return x",))) == {"build", "helper", "call", "__init__"}
