"""Positions computed statement by statement equal libcst's whole-module provider."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from kerascheck.parse import parse_lines
from kerascheck.names import children as _children
from kerascheck.positions import positions

ROOT = Path(__file__).resolve().parent.parent
def _parses(path) -> bool:
    import ast

    try:
        ast.parse(path.read_bytes())
    except SyntaxError:
        return False  # a project fixture's module that does not parse, on purpose
    return True


FIXTURES = sorted(p for p in (ROOT / "fixtures").rglob("*.py") if _parses(p))


def _nodes(module):
    stack = [module]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Call, cst.Arg, cst.Name, cst.BaseStatement)):
            yield node
        stack.extend(_children(node))


@pytest.mark.parametrize("keep", [None, ("Dropout", "BatchNormalization", "onstraint", "dropout", "Input")])
@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_same_positions_as_libcst(path, keep):
    text = path.read_text(encoding="utf-8")
    module, layout = parse_lines(text, path.name, keep)
    nodes = list(_nodes(module))
    whole = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    fast = positions(module, layout, nodes)
    for node in nodes:
        assert fast[node] == whole[node], module.code_for_node(node)[:80]


def test_semicolons_decorators_and_comments():
    text = "import a; import b\n\n# comment\n@dec()\n# between\ndef f():\n    return g(1)\n\nx = 1; y = h(2)\n"
    module, layout = parse_lines(text, "t.py", None)
    assert [top.start for top in layout] == [1, 4, 9]
    calls = [n for n in _nodes(module) if isinstance(n, cst.Call)]
    found = positions(module, layout, calls)
    assert sorted((r.start.line, r.start.column) for r in (found[c] for c in calls)) == [(4, 1), (7, 11), (9, 11)]


def test_methods_in_partially_blanked_class():
    text = (
        "import keras\n\n\n@register\nclass Block(keras.layers.Layer):\n"
        "    \"\"\"Doc.\"\"\"\n\n    def helper(self):\n        return 1\n\n"
        "    @tf.function\n    def call(self, x):\n        y = keras.layers.Dropout(\n            0.5,\n"
        "        )(x)\n        return y\n\n    x: int = 3; z = 4\n\n    def other(self):\n        return Dropout(1)\n"
    )
    for keep in (None, ("Dropout",)):
        module, layout = parse_lines(text, "t.py", keep)
        nodes = list(_nodes(module))
        whole = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        fast = positions(module, layout, nodes)
        assert all(fast[n] == whole[n] for n in nodes)
