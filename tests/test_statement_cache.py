"""parse.StatementCache: an editor's buffer parsed one top-level statement at a time, reusing
the statements an edit did not touch. The module it assembles must be libcst's own parse of
the text, and the findings must be those of a check without it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import libcst as cst
import pytest

from conftest import FIXTURES
from kerascheck.engine import check_text
from kerascheck.parse import StatementCache, _layout, check_syntax


def _parse(cache: StatementCache, text: str):
    return cache.parse(text, _layout(list(check_syntax(text, "t.py").body), {}))


def _real_files(per_package: int) -> list[Path]:
    files = sorted(FIXTURES.rglob("*.py"))
    for package in ("tf_keras", "keras"):
        spec = importlib.util.find_spec(package)  # located, not imported
        if spec is not None and spec.origin:
            found = sorted((Path(spec.origin).parent / "src" / "layers").rglob("*.py"), key=lambda p: p.stat().st_size)
            files += found[len(found) // 3 : len(found) // 3 + per_package]
    return files


def _versions(text: str) -> list[str]:
    """The text and two edits of it: a comment line added between statements, and
    trailing blank lines and an indented comment at the end."""
    return [text, text.replace("\n\n", "\n\n# an edit\n", 1), text + "\n\n    # trailing\n"]


def test_the_assembled_module_is_libcsts_parse_of_the_text():
    cache = StatementCache()  # one cache across files: what it kept from other texts must not leak
    compared = 0
    for path in _real_files(per_package=15):
        for version in _versions(path.read_text(encoding="utf-8")):
            try:
                whole = cst.parse_module(version)
                module = _parse(cache, version)
            except Exception:
                continue  # not Python for ast or libcst: the engine reports it, no cache involved
            if module is None:  # a text that needs the whole parse
                continue
            assert module.deep_equals(whole), path
            assert (module.code, module.default_indent, module.default_newline, module.has_trailing_newline,
                    module.encoding) == (whole.code, whole.default_indent, whole.default_newline,
                                         whole.has_trailing_newline, whole.encoding), path
            compared += 1
    assert compared > 60


@pytest.mark.parametrize("text", [
    "x = [1,\n     2]\n     # libcst drops this line from a module footer\n     # and keeps this one\n\ny = 2\n",
    "# only a comment\n",  # no statement
    "def f():\n  return 1\n\n\ndef g():\n    return 2\n",  # two indentations
    "x = 1\r\ny = 2\n",  # two line endings
])
def test_texts_that_need_the_whole_parse(text):
    assert _parse(StatementCache(), text) is None


def test_unchanged_statements_are_reused_and_only_the_last_text_is_kept():
    cache = StatementCache()
    first = _parse(cache, "import keras\n\n\ndef f():\n    return 1\n\n\nx = f()\n")
    second = _parse(cache, "import keras\n\n\ndef f():\n    return 2\n\n\nx = f()\n")
    assert first.body[0] is second.body[0] and first.body[2] is not second.body[2]
    assert first.body[1] is not second.body[1]
    assert len(cache._chunks) == 3
    twice = _parse(cache, "x = 1\nx = 1\n")  # the same statement twice: two nodes, never one
    assert twice.body[0] is not twice.body[1] and len(cache._chunks) == 1


def test_findings_with_the_cache_are_the_findings_without_it():
    """Each fixture checked through a series of edits with one cache, as the server does."""
    compared = 0
    for path in sorted(FIXTURES.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        cache = StatementCache()
        lines = text.splitlines(keepends=True)
        middle = len(lines) // 2
        edits = [text, "".join(lines[:middle] + ["\n", "# inserted\n"] + lines[middle:]),
                 "".join(lines[:middle] + lines[middle + 1 :]), text]
        for version in edits:
            expected = check_text(version, path=str(path))
            assert check_text(version, path=str(path), cache=cache) == expected, path
            compared += bool(expected)
    assert compared > 20
