"""One meaning of "line" (issue 10, item 2): Python's tokenizer breaks lines at \\n, \\r\\n and \\r
only; `str.splitlines()` also breaks at \\x0b \\x0c \\x1c \\x1d \\x1e \\x85 \\u2028 \\u2029. Every
place that splits lines uses `kerascheck.lines.split_lines`; each is tested here with each of
those characters, where Python allows them (in comments and strings; \\x0c also as indentation
whitespace at the start of a line).

The oracle is the file as built: a list of lines joined with \\n, so line k is `lines[k - 1]`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kerascheck import lines as lines_module
from kerascheck.config import Settings
from kerascheck.engine import check_text
from kerascheck.lines import count_lines, frame, noqa_lines, split_lines
from kerascheck.testing import check_source, expected_lines
from tests.conftest import invoke

ROOT = Path(__file__).resolve().parent.parent
CHARS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
IDS = [f"U+{ord(c):04X}" for c in CHARS]


def kc003_lines(ch: str) -> list[str]:
    """KC003 at 8:5 (NonNeg bias constraint with a random initializer), the character in
    comments and strings before and inside the flagged call, and a helper that is blanked."""
    return [
        "import keras",
        "from keras import layers",
        f"# a comment {ch} with the character",
        f"NAME = 'a{ch}b'",
        f"DOC = '''two{ch}lines{ch}in one'''",
        f"b = layers.Dense(3,  # {ch}",
        "    bias_initializer='random_normal',",
        "    bias_constraint=keras.constraints.NonNeg())",
        f"def helper(): return 'x{ch}'",
    ]


def text_of(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def only(found, code: str):
    assert [f.code for f in found] == [code], [(f.code, f.line, f.message) for f in found]
    return found[0]


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_split_lines_breaks_only_where_the_tokenizer_does(ch):
    text = f"a{ch}b\r\nc\rd\ne{ch}"
    assert split_lines(text) == [f"a{ch}b", "c", "d", f"e{ch}"]
    assert split_lines(text, keepends=True) == [f"a{ch}b\r\n", "c\r", "d\n", f"e{ch}"]
    assert count_lines(text) == 4 and count_lines(text + "\n") == 4 and count_lines("") == 0


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
@pytest.mark.parametrize("full", [False, True], ids=["partial", "full"])
def test_parse_positions_frames_and_snippets(ch, full):
    """Blanking (partial parse), positions, code frames and baseline snippets."""
    lines = kc003_lines(ch)
    f = only(check_source(text_of(lines), full_parse=full), "KC003")
    assert (f.line, f.column, f.end_line) == (8, 5, 8)
    assert f.frame == (lines[6], lines[7]) and f.frame_start == 7
    assert f.snippet == "bias_constraint=keras.constraints.NonNeg()"
    kc001 = ["from keras import layers", f"# {ch}", f"x = layers.BatchNormalization(  # {ch} momentum",
             "    momentum=0.9)(layers.Dropout(0.5)(x))"]
    f = only(check_source(text_of(kc001), full_parse=full), "KC001")
    assert (f.line, f.column, f.end_line) == (3, 5, 4)
    assert f.frame == tuple(kc001[1:4])
    assert f.snippet == "".join((kc001[2][4:] + "\n" + kc001[3][:17]).split())


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_the_character_alone_on_a_line_is_reported_at_that_line(ch):
    """Python refuses all of them but \\x0c outside comments and strings: a KC000 at the right
    line. The issue's reproducer (two \\x0c lines) gave no finding at all."""
    lines = kc003_lines("")
    lines[2:3] = [ch, ch]
    found = check_source(text_of(lines))
    if ch == "\x0c":
        assert [(f.code, f.line, f.column) for f in found] == [("KC003", 9, 5)]
    else:
        assert [(f.code, f.line) for f in found] == [("KC000", 3)]


def test_issue_reproducers():
    silent = (b"import keras\nfrom keras import layers\n\x0c\n\x0c\nb = layers.Dense(3,\n"
              b"    bias_initializer='random_normal',\n    bias_constraint=keras.constraints.NonNeg())\n"
              b"def helper(): return 1\n").decode()
    assert [(f.code, f.line, f.column) for f in check_source(silent)] == [("KC003", 7, 5)]
    false_kc000 = ("import keras\nfrom keras import layers\n\x0c\nmodel = keras.Sequential([\n"
                   "    layers.Dropout(0.5),\n    layers.Dense(3),\n    layers.BatchNormalization(),\n])\n"
                   "def helper(): return 1\n")
    assert all(f.code != "KC000" for f in check_source(false_kc000))
    assert check_source(false_kc000) == check_source(false_kc000, full_parse=True)


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_noqa_and_frames_count_tokenizer_lines(ch):
    lines = kc003_lines(ch)
    lines[7] += "  # noqa: KC003"
    text = text_of(lines)
    assert noqa_lines(text) == {8: frozenset({"KC003"})}
    assert check_source(text) == []
    assert frame(text, 8, 8) == ((lines[6], lines[7]), 7)


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_notebook_cells_map_back_to_their_own_lines(tmp_path, ch):
    cell = kc003_lines(ch)
    nb = {"cells": [{"cell_type": "markdown", "source": [f"# title {ch}\n"]},
                    {"cell_type": "code", "source": [f"x = 1  # {ch}\n", "y = 2\n"]},
                    {"cell_type": "code", "source": [line + "\n" for line in cell]}],
          "metadata": {"kernelspec": {"language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "model.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    result = invoke("check", "--format", "json", "--no-cache", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    [f] = json.loads(result.stdout)
    assert (f["code"], f["cell"], f["line"], f["column"]) == ("KC003", 3, 8, 5)
    text = invoke("check", "--no-cache", ".", cwd=tmp_path).stdout
    assert f"7 | {cell[6]}\n8 | {cell[7]}\n" in text  # the frame: the cell's own lines


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_confirm_slice_keeps_line_numbers_and_never_takes_module_level_code(ch):
    """The issue: with a \\x0c line before module-level `open(...).write(...)`, the slice held that
    line in place of the definition, and `--confirm` ran it."""
    from kerascheck.confirm.slice import make_slice

    lines = ["import keras", "from keras import layers", f"# {ch}", f"NOTE = 'x{ch}y'",
             "open('module-level-code-ran.txt', 'w').write('ran')", "def build():",
             f"    # {ch}", "    return keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])",
             "build().fit()"]
    if ch == "\x0c":
        lines[2] = ch  # a line of its own, as in the issue
    source, _ = make_slice(text_of(lines), {"build", "keras", "layers"})
    got = split_lines(source)
    assert len(got) == len(lines)
    kept = {n for n, line in enumerate(got, 1) if line.strip(" ")}
    assert kept == {1, 2, 6, 7, 8}
    for n in kept:
        assert got[n - 1] == lines[n - 1]
    assert "open(" not in source and "fit" not in source
    compile(source, "slice.py", "exec")


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_confirm_source_index_and_overlay(ch):
    from kerascheck.confirm.source_index import SourceIndex, overlay

    lines = ["import keras", f"# {ch}", f"RATE = 0.5  # {ch} é", "x = keras.layers.Dropout(RATE)(y)"]
    src = SourceIndex(text_of(lines))
    assert src.lines[:4] == lines
    rate, stmt = src.tree.body[1:]
    assert src.span(stmt)[:2] == (4, 0) and src.span(rate) == (3, 0, 3, 10)
    out = split_lines(overlay("\n" * 4, src, [rate, stmt]))
    assert out[2] == "RATE = 0.5" and out[3] == lines[3]


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_max_lines_counts_tokenizer_lines(ch):
    lines = kc003_lines(ch)
    text = text_of(lines)
    assert count_lines(text) == len(lines) == 9
    assert [f.code for f in check_source(text, settings=Settings(max_lines=9))] == ["KC003"]
    assert "file too large" in check_source(text, settings=Settings(max_lines=8))[0].message


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_error_positions_count_tokenizer_lines(tmp_path, ch):
    """A NUL byte's position (found on the bytes, before decoding) counts \\r as a break too."""
    data = f"import keras  # {ch}\r# second\rx = 1\x00\n".encode()
    (tmp_path / "nul.py").write_bytes(data)
    result = invoke("check", "--format", "json", "--no-cache", "nul.py", cwd=tmp_path)
    [f] = json.loads(result.stdout)
    assert (f["code"], f["line"], f["column"]) == ("KC000", 3, 6)


@pytest.mark.parametrize("ending", ["\r\n", "\r"], ids=["CRLF", "CR"])
def test_fixtures_give_the_same_findings_with_any_line_ending(ending):
    """Every rule fixture, its line breaks rewritten: the same findings at the same places
    (prefilter words that start with a line break match after \\r too)."""
    for path in sorted((ROOT / "fixtures").glob("kc*/*.py")):
        text = path.read_text(encoding="utf-8")
        want = [(f.code, f.line, f.column, f.end_line, f.end_column, f.message, f.snippet)
                for f in check_text(text, path.name)]
        got = [(f.code, f.line, f.column, f.end_line, f.end_column, f.message, f.snippet)
               for f in check_text(text.replace("\n", ending), path.name)]
        assert got == want, path.name


def test_prefilter_line_start_words_match_after_any_line_break():
    from kerascheck.rule import Rule

    rule = Rule("KC999", "x", "x", needs=(b"\nimport tensorflow",), check=lambda ctx: iter(()))
    assert rule.wanted(b"import tensorflow as tf\n")
    assert rule.wanted(b"x = 1\nimport tensorflow as tf\n")
    assert rule.wanted(b"x = 1\rimport tensorflow as tf\r")
    assert not rule.wanted(b"x = 1; import tensorflow as tf\n")


@pytest.mark.parametrize("ch", CHARS, ids=IDS)
def test_expect_markers_count_tokenizer_lines(ch):
    assert expected_lines(f"a = 1  # {ch}\nb = 2  # expect: KC001\n") == {(2, "KC001")}


def test_no_module_splits_lines_another_way():
    """`str.splitlines()` and `.split("\\n")` on source text are gone from kerascheck; what is
    left splits other things (docstrings, git's output, a log)."""
    # lines.py: the one definition (with a str.splitlines fast path); target.py: requirements and conda files, split as pip does
    allowed = {"lines.py": 3, "rule.py": 1, "gitdiff.py": 1, "confirm/runner.py": 1, "target.py": 6}
    for path in sorted((ROOT / "kerascheck").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        count = text.count(".splitlines(") + text.count('.split("\\n")') + text.count("count(\"\\n\")")
        name = path.relative_to(ROOT / "kerascheck").as_posix()
        assert count == allowed.get(name, 0), name
    assert lines_module.split_lines.__module__ == "kerascheck.lines"


@pytest.mark.parametrize("indent", ["\x0c", "\x0c\x0c", " \x0c", "\x0c  "], ids=["ff", "ff-ff", "sp-ff", "ff-sp"])
@pytest.mark.parametrize("full", [False, True], ids=["partial", "full"])
def test_form_feed_indentation_keeps_the_files_columns(indent, full):
    """libcst's tokenizer drops a line's leading form feeds (and the whitespace before them)
    from its columns; Python counts them. The finding's column is the file's own (ast's + 1),
    at module level and inside a function whose lines start with whitespace and a form feed."""
    import ast

    call = "b = layers.Dense(3, bias_initializer='random_normal', bias_constraint=keras.constraints.NonNeg())"
    head = ["import keras", "from keras import layers"]
    for lines in (head + [indent.rstrip(" ") + call],
                  head + ["def build():", f"  {indent}    {call}", f"  {indent}    return b", "build()"]):
        text = text_of(lines)
        keyword = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.keyword)
                       and n.arg == "bias_constraint")
        f = only(check_source(text, full_parse=full), "KC003")
        assert (f.line, f.column, f.end_column) == (keyword.lineno, keyword.col_offset + 1,
                                                     keyword.end_col_offset + 1)
        assert f.snippet == "bias_constraint=keras.constraints.NonNeg()"


def test_form_feed_inside_a_multiline_string_is_the_strings_text():
    """Lines inside a multi-line string keep their form feeds (formfeed_indents leaves them)."""
    from kerascheck.parse import formfeed_indents
    import ast

    text = "DOC = '''a\n\x0c  b'''\n\x0cx = 1\n"
    got, shifts = formfeed_indents(text, ast.parse(text))
    assert got == "DOC = '''a\n\x0c  b'''\nx = 1\n" and shifts == {3: 1}


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_keras_target_markers_count_tokenizer_lines(ending):
    """The file's own Keras 2 markers (target.markers) start at any line break: with `^` under
    re.M alone, a file with \\r line endings had none, and its Keras 2 code was judged as Keras 3."""
    from kerascheck.target import markers

    lines = ["# import tf_keras", "import numpy", "import tf_keras as keras",
             'os.environ["TF_USE_LEGACY_KERAS"] = "1"', "!pip install tensorflow==2.10", ""]
    assert markers(ending.join(lines)) == (("import", 3, "import tf_keras as keras"),
                                           ("env", 4, 'os.environ["TF_USE_LEGACY_KERAS"] = "1"'),
                                           ("pip", 5, "!pip install tensorflow==2.10"))


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_relevance_scan_ends_comments_and_strings_at_any_line_break(ending):
    """parse._code_lines takes comments and strings out before looking for anchor words: a
    comment that ran on to the next \\n swallowed every later line of a \\r file, and the function
    that builds the model was blanked (no finding, exit 0)."""
    lines = ["import keras  # the model", "from keras import layers", "MSG = 'a # b'",
             "def build():  # builds it", "    return keras.Sequential([layers.Dropout(0.5),",
             "                             layers.BatchNormalization()])"]
    text = ending.join(lines) + ending
    found = [(f.code, f.line, f.column) for f in check_source(text)]
    assert found == [(f.code, f.line, f.column) for f in check_source(text, full_parse=True)]
    assert [code for code, _, _ in found] == ["KC001"]
