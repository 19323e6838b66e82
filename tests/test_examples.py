"""Every rule's VALID and INVALID examples are test cases (Fixit's way). Each runs with its
rule selected by code, so opt-in (`info`) rules are tested like the others."""

from __future__ import annotations

import pytest

from kerascheck import registry
from kerascheck.testing import check_source, expected_lines

RULES = registry.load()
VALID = [(r.code, i, src) for r in RULES for i, src in enumerate(getattr(r.module, "VALID", []))]
INVALID = [(r.code, i, src) for r in RULES for i, src in enumerate(getattr(r.module, "INVALID", []))]


@pytest.mark.parametrize(("code", "index", "source"), VALID, ids=[f"{c}-valid-{i}" for c, i, _ in VALID])
def test_valid_examples_are_clean(code, index, source):
    assert [f for f in check_source(source, select=(code,)) if f.code == code] == []


@pytest.mark.parametrize(("code", "index", "source"), INVALID, ids=[f"{c}-invalid-{i}" for c, i, _ in INVALID])
def test_invalid_examples_fire_on_marked_lines(code, index, source):
    expected = {(line, c) for line, c in expected_lines(source) if c == code}
    assert expected, "an INVALID example must mark its findings with `# expect: KCnnn`"
    got = {(f.line, f.code) for f in check_source(source, select=(code,)) if f.code == code}
    assert got == expected


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_rule_has_examples_and_docs(rule):
    assert getattr(rule.module, "VALID", None), f"{rule.code} has no VALID examples"
    assert getattr(rule.module, "INVALID", None), f"{rule.code} has no INVALID examples"
    doc = rule.doc
    headings = ["## What it does", "## Why is this bad?", "## Example", "## Use instead"]
    positions = [doc.find(h) for h in headings]
    assert all(p >= 0 for p in positions), f"{rule.code} docs lack one of {headings}"
    assert positions == sorted(positions), f"{rule.code} docs must keep the order {headings}"
    assert rule.name == rule.name.lower() and " " not in rule.name and "_" not in rule.name
