"""Jupyter notebooks: checked cell by cell, as one program, reported at `cell N:line:col`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kerascheck.notebook import neutralize, to_source
from tests.conftest import run_cli

JSON_KEYS = {"code", "name", "message", "path", "line", "column", "end_line", "end_column",
             "severity", "fix", "confirm", "related"}


def notebook(*cells, language: str = "python") -> str:
    """cells: ("code" | "markdown", source)."""
    nb = {
        "cells": [{"cell_type": kind, "metadata": {}, "source": src,
                   **({"execution_count": None, "outputs": []} if kind == "code" else {})}
                  for kind, src in cells],
        "metadata": {"kernelspec": {"name": "k", "display_name": "k", "language": language}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    return json.dumps(nb, indent=1)


MODEL = notebook(
    ("markdown", "# A model built across cells\nlayers.BatchNormalization() in prose"),
    ("code", ["%matplotlib inline\n", "!pip install keras\n", "import keras\n", "from keras import layers"]),
    ("code", "%%bash\necho this is not ( python BatchNormalization\n"),
    ("code", "layers.Dense?\n??keras.Model\nfiles = !ls\nfor f in files:\n    !echo {f}\n"
             "drop = layers.Dropout(0.5)\n"),
    ("markdown", "Now the normalisation."),
    ("code", "%%time\nmodel = keras.Sequential([drop, layers.BatchNormalization()])\n"),
    ("code", "s = '''\n%not a magic inside a string\n'''\n"
             "other = keras.Sequential([layers.Dropout(0.2), layers.BatchNormalization()])  # noqa: KC001\n"),
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "model.ipynb").write_text(MODEL)
    (tmp_path / "bad.py").write_text("import keras\nfrom keras import layers\n"
                                     "model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")
    return tmp_path


def test_text_output_names_the_cell_and_shows_the_cell_as_written(project):
    result = run_cli("check", "--no-cache", ".", cwd=project)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    hits = [line for line in lines if ": KC" in line]
    assert len(hits) == 2, result.stdout  # the one in cell 7 has a noqa
    assert hits[0].startswith("bad.py:3:48: KC001 ")
    # cell 6 (markdown cells count), line 2 of it; the Dropout is named in its own cell.
    assert hits[1].startswith("nb/model.ipynb:cell 6:2:33: KC001 Dropout (line 6 of cell 4) feeds BatchNormalization")
    frame = lines[lines.index(hits[1]) + 1 : lines.index(hits[1]) + 4]
    assert frame[0] == "1 | %%time"  # the frame shows the magic, not its neutralised copy
    assert frame[1] == "2 | model = keras.Sequential([drop, layers.BatchNormalization()])"
    assert frame[2].endswith("^" * len("layers.BatchNormalization()"))


def test_json_has_a_cell_key_only_for_notebook_findings(project):
    result = run_cli("check", "--no-cache", "--output-format", "json", ".", cwd=project)
    data = json.loads(result.stdout)
    assert [(d["path"], d.get("cell"), d["line"], d["column"]) for d in data] == [
        ("bad.py", None, 3, 48), ("nb/model.ipynb", 6, 2, 33)]
    assert set(data[0]) == JSON_KEYS  # .py findings keep exactly the documented keys
    assert set(data[1]) == JSON_KEYS | {"cell"}
    assert data[1]["end_line"] == 2 and data[1]["end_column"] == 33 + len("layers.BatchNormalization()")


def test_notebooks_are_cached_too(project):
    env = {"KERASCHECK_DEBUG_STATS": "1"}
    first = run_cli("check", ".", cwd=project, env=env)
    second = run_cli("check", ".", cwd=project, env=env)
    assert "parsed=2 cached=0" in first.stderr and "parsed=0 cached=2" in second.stderr
    assert [l for l in second.stdout.splitlines() if ": KC" in l] == [l for l in first.stdout.splitlines() if ": KC" in l]


def test_a_notebook_named_explicitly_and_the_python_suffixes_still_walked(project):
    result = run_cli("check", "--no-cache", "nb/model.ipynb", cwd=project)
    assert result.returncode == 1 and "nb/model.ipynb:cell 6:2:33: KC001" in result.stdout
    assert "(1 file checked" in result.stdout


@pytest.mark.parametrize(("content", "where"), [
    ('{"cells": [', "1:12"),
    ("not json at all", "1:1"),
    ('{"nbformat": 4}', "1:1"),
    ('{"cells": [{"cell_type": "code", "source": 42}]}', "1:1"),
    ('[1, 2, 3]', "1:1"),
])
def test_malformed_notebook_is_one_kc000(tmp_path, content, where):
    (tmp_path / "broken.ipynb").write_text(content, encoding="utf-8")
    result = run_cli("check", "--no-cache", "--output-format", "json", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert [(d["code"], f'{d["line"]}:{d["column"]}') for d in data] == [("KC000", where)]
    assert data[0]["message"].startswith("malformed notebook")
    assert "cell" not in data[0]


def test_binary_garbage_notebook_is_one_kc000(tmp_path):
    (tmp_path / "x.ipynb").write_bytes(b"\xff\xfe\x00garbage")
    result = run_cli("check", "--no-cache", ".", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout.count("KC000") == 1 and "Traceback" not in result.stderr


def test_syntax_error_in_a_cell_is_reported_in_that_cell(tmp_path):
    (tmp_path / "s.ipynb").write_text(notebook(
        ("code", "import keras\nfrom keras import layers\n"),
        ("code", "m = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\ny = (\n")))
    result = run_cli("check", "--no-cache", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("s.ipynb:cell 2:2:"), result.stdout
    assert "KC000" in result.stdout


def test_other_kernels_and_empty_notebooks_are_clean(tmp_path):
    (tmp_path / "r.ipynb").write_text(notebook(("code", "library(keras)\nBatchNormalization <- ("),
                                               language="R"))
    (tmp_path / "empty.ipynb").write_text(notebook())
    (tmp_path / "bom.ipynb").write_text("\ufeff" + notebook(("markdown", "hi")), encoding="utf-8")
    result = run_cli("check", "--no-cache", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stdout


def test_nbformat_3_is_read(tmp_path):
    nb = {"nbformat": 3, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": ["import keras\n", "from keras import layers\n"]},
        {"cell_type": "code",
         "input": ["m = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n"]}]}]}
    (tmp_path / "old.ipynb").write_text(json.dumps(nb))
    result = run_cli("check", "--no-cache", ".", cwd=tmp_path)
    assert result.stdout.startswith("old.ipynb:cell 2:1:44: KC001"), result.stdout


# ---- the line-for-line rewriting of IPython syntax


@pytest.mark.parametrize(("line", "expected"), [
    ("%matplotlib inline", "pass"),
    ("  %time f()", "  pass"),
    ("!pip install keras", "pass"),
    ("files = !ls", "pass"),
    ("t = %timeit -o f()", "pass"),
    ("model.fit?", "pass"),
    ("??keras.layers", "pass"),
    ("np.*load*?", "pass"),
    ("x = 5 % 3", "x = 5 % 3"),
    ("x != y", "x != y"),
    ("print('why?')", "print('why?')"),
    ("# %matplotlib", "# %matplotlib"),
    ("d = {'a': 1}", "d = {'a': 1}"),
])
def test_neutralize_one_line(line, expected):
    assert neutralize([line]) == [expected]


def test_neutralize_keeps_line_count_and_python_inside_strings_and_brackets():
    cell = ["x = '''", "%not magic", "!not shell", "'''", "y = (1", "  % 2)", "%time \\", "  continued",
            "if x:", "    !ls", "z = 1"]
    out = neutralize(cell)
    assert len(out) == len(cell)
    assert out[:6] == cell[:6]
    assert out[6:8] == ["pass", ""]
    assert out[8:] == ["if x:", "    pass", "z = 1"]
    compile("\n".join(out), "cell", "exec")


def test_cell_magics():
    assert neutralize(["%%bash", "echo (", "ls"]) == ["", "", ""]
    assert neutralize(["", "%%writefile x.py", "import os"]) == ["", "", ""]
    assert neutralize(["%%time", "x = 1", "!ls"]) == ["", "x = 1", "pass"]
    assert neutralize(["%%capture out", "x = 1"]) == ["", "x = 1"]


def test_to_source_lines_map_back():
    src, cells = to_source(MODEL.encode())
    text = src.decode()
    compile(text, "nb", "exec")
    assert [(start, number) for start, number, _, _ in cells] == [(1, 2), (5, 3), (7, 4), (13, 6), (15, 7)]
    assert text.splitlines()[13] == "model = keras.Sequential([drop, layers.BatchNormalization()])"


def test_sarif_and_github_name_the_cell(project):
    sarif = json.loads(run_cli("check", "--no-cache", "--output-format", "sarif", ".", cwd=project).stdout)
    results = sarif["runs"][0]["results"]
    nb = [r for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "nb/model.ipynb"]
    assert len(nb) == 1 and nb[0]["properties"]["cell"] == 6
    assert nb[0]["locations"][0]["logicalLocations"] == [{"name": "cell 6", "kind": "module"}]
    assert nb[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    py = [r for r in results if r is not nb[0]]
    assert "cell" not in py[0].get("properties", {})
    github = run_cli("check", "--no-cache", "--output-format", "github", ".", cwd=project).stdout.splitlines()
    assert any(line.startswith("::warning file=nb/model.ipynb,line=2,") and "::cell 6, line 2: KC001" not in line
               and "::cell 6, line 2: Dropout" in line for line in github), github


# ---- notebooks as people write them: automagic, indented cells, one broken cell

NOTEBOOK_FIXTURES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOK_FIXTURES, ids=[p.name for p in NOTEBOOK_FIXTURES])
def test_notebook_fixture(path):
    """`cell N:LINE:COL CODE message` per finding, in the sibling `.expected` (checked by hand)."""
    from tests.conftest import invoke

    result = invoke("check", "--no-cache", "--format", "json", "--exit-zero", path.name, cwd=path.parent)
    got = "".join(f"cell {d['cell']}:{d['line']}:{d['column']} {d['code']} {d['message']}\n"
                  for d in json.loads(result.stdout))
    assert got == path.with_suffix(".expected").read_text(encoding="utf-8")


@pytest.mark.parametrize(("line", "expected"), [
    ("pip install -q tensorflow-datasets", "pass"),
    ("ls dir/", "pass"),
    ("cd /content/drive", "pass"),  # Python would read `cd / content / drive`; IPython runs %cd
    ("cat f", "pass"),
    ("  cd ..", "  pass"),
    ("pwd", "pass"),
    ("ls -la", "pass"),
    ("cat(x)", "pass"),  # IPython: %cat (x), when `cat` is not a Python name of the notebook
    ("ls = [1, 2]", "ls = [1, 2]"),  # an assignment is Python (IPython's AssignmentChecker)
    ("time.sleep(1)", "time.sleep(1)"),  # an attribute is Python
    ("run = make(", "run = make("),
    ("history = model.fit(x, y)", "history = model.fit(x, y)"),
    ("wget https://x/y.zip", "wget https://x/y.zip"),  # not a magic: a syntax error in IPython too
])
def test_automagic_in_a_single_line_cell(line, expected):
    assert neutralize([line]) == [expected]


def test_automagic_in_longer_cells_only_where_the_line_is_no_python():
    """IPython applies automagic to single-line cells only; in a longer cell a line that is no
    Python anyway is still read as the magic it was meant to be."""
    cell = ["import os", "pip install x", "ls -la", "cat(x)", "cd data/"]
    assert neutralize(cell) == ["import os", "pass", "ls -la", "cat(x)", "pass"]


def test_a_magic_name_the_notebook_defines_is_python(tmp_path):
    src, _ = to_source(notebook(("code", "def run(m):\n    return m\n"), ("code", "run(model)\n"),
                                ("code", "cat f\n")).encode())
    assert src.decode().splitlines() == ["def run(m):", "    return m", "run(model)", "pass"]


def test_indented_cell_is_dedented_and_mapped_back(tmp_path):
    (tmp_path / "i.ipynb").write_text(notebook(
        ("code", "  import keras\n  from keras import layers\n"),
        ("code", "\n\t\tx = layers.Dropout(0.5)(keras.Input((4,)))\n\t\ty = layers.BatchNormalization()(x)\n")))
    data = json.loads(run_cli("check", "--no-cache", "--format", "json", ".", cwd=tmp_path).stdout)
    assert [(d["cell"], d["line"], d["column"], d["end_column"]) for d in data] == [
        (2, 3, 7, 7 + len("layers.BatchNormalization()"))]
    assert [(r["cell"], r["line"], r["column"]) for r in data[0]["related"]] == [(2, 2, 7)]


def test_one_broken_cell_is_one_kc000_and_the_rest_is_checked(tmp_path):
    (tmp_path / "b.ipynb").write_text(notebook(
        ("code", "import keras\nfrom keras import layers\n"),
        ("code", "def oops(:\n    pass\n"),
        ("code", "print 'python 2'\n"),
        ("code", "m = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n")))
    data = json.loads(run_cli("check", "--no-cache", "--format", "json", ".", cwd=tmp_path).stdout)
    assert [(d["code"], d["cell"], d["line"]) for d in data] == [("KC000", 2, 1), ("KC000", 3, 1), ("KC001", 4, 1)]
    assert data[0]["message"].endswith("(this cell is not checked; the other cells are)")


def test_a_broken_cell_is_no_link_between_cells(tmp_path):
    """What a broken cell would define is unknown: no finding crosses it."""
    (tmp_path / "x.ipynb").write_text(notebook(
        ("code", "import keras\nfrom keras import layers\ndrop = layers.Dropout(0.5)\n"),
        ("code", "drop = layers.Dense(4)\nbroken = (\n"),
        ("code", "m = keras.Sequential([drop, layers.BatchNormalization()])\n")))
    data = json.loads(run_cli("check", "--no-cache", "--format", "json", ".", cwd=tmp_path).stdout)
    assert [(d["code"], d["cell"]) for d in data] == [("KC000", 2)]
