"""Fuzzing in the default run (issue 10, item 7), bounded to about a minute: hypothesmith
programs and byte-level mutants of the fixtures, checked with `--jobs 1`, `--jobs 2` and
`--full-parse` beside an unrelated good file (tests/fuzzing.py says what is asserted).

Deterministic (`derandomize`), so a failure here reproduces; `bench/fuzz.py` explores freely
for as long as asked. No example database is written (`database=None`).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import fuzzing

pytest.importorskip("hypothesmith")

BOUNDED = settings(max_examples=4, deadline=None, database=None, derandomize=True, print_blob=True,
                   suppress_health_check=list(HealthCheck))


def _check(files, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    counts: Counter = Counter()
    failures = fuzzing.check_batch(files, tmp, counts)
    assert failures == [], failures
    assert counts["files"] == len(files)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::SyntaxWarning")
@BOUNDED
@given(files=st.lists(fuzzing.grammar_programs(), min_size=4, max_size=8))
def test_grammar_programs(files, tmp_path_factory):
    _check(files, tmp_path_factory)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::SyntaxWarning")  # compiling the programs
@BOUNDED
@given(program=fuzzing.node_programs())
def test_node_programs(program, tmp_path_factory):
    """One program per example: from_node records hypothesis targets, once per test case."""
    _check([program], tmp_path_factory)


@settings(BOUNDED, max_examples=6)
@given(files=st.lists(fuzzing.mutants(), min_size=6, max_size=12))
def test_fixture_mutants(files, tmp_path_factory):
    _check(files, tmp_path_factory)


def test_every_mutation_applies():
    data = b"import keras\nx = 1\n"
    for op in fuzzing.OPS:
        mutated = fuzzing._mutate(data, op, 0.5, 7)
        assert mutated != data, op
