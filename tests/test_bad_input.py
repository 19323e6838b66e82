"""Bad input never crashes or stops the run: each bad file is one KC000 finding.

In process (click's runner): the engine checks these files in the test process itself."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kerascheck import engine, registry
from kerascheck.config import Settings
from kerascheck.discover import Target
from kerascheck.registry import Rule
from tests.conftest import invoke

KERAS = "from keras import layers\nx = layers.BatchNormalization()(layers.Dropout(0.5)(x))\n"


def kc000(tmp_path: Path, name: str) -> list[dict]:
    result = invoke("check", "--output-format", "json", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr == ""
    return [d for d in json.loads(result.stdout) if d["path"] == name]


def write(tmp_path: Path, name: str, data: bytes) -> None:
    (tmp_path / name).write_bytes(data)
    (tmp_path / "good.py").write_text(KERAS)  # the run goes on past the bad file


def assert_one(found: list[dict], needle: str, line: int | None = None, column: int | None = None):
    assert len(found) == 1, found
    item = found[0]
    assert item["code"] == "KC000" and item["name"] == "unreadable-file" and item["severity"] == "error"
    assert needle in item["message"], item["message"]
    if line is not None:
        assert item["line"] == line
    if column is not None:
        assert item["column"] == column


def test_good_file_still_reported(tmp_path):
    write(tmp_path, "bad.py", KERAS.encode() + b"def f(:\n")
    result = invoke("check", "--output-format", "json", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    codes = {(d["path"], d["code"]) for d in json.loads(result.stdout)}
    assert codes == {("bad.py", "KC000"), ("good.py", "KC001")}


@pytest.mark.parametrize("source", [KERAS.encode() + b"def f(:\n    pass\n", KERAS.encode() + b"model.add(layers.Dense(10)\n"])
def test_syntax_error(tmp_path, source):
    write(tmp_path, "bad.py", source)
    found = kc000(tmp_path, "bad.py")
    assert_one(found, "syntax error")
    assert found[0]["line"] >= 1


def test_syntax_error_position(tmp_path):
    write(tmp_path, "bad.py", KERAS.encode() + b"\nx = (1 +\n")
    assert_one(kc000(tmp_path, "bad.py"), "syntax error", line=4)


def test_syntax_error_in_a_file_no_rule_can_match_is_not_parsed(tmp_path):
    """Like the prefilter's other skips: a file without the words a rule needs is never parsed."""
    (tmp_path / "other.py").write_bytes(b"def f(:\n")
    result = invoke("check", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "(1 file checked, 1 skipped by prefilter)" in result.stdout


def test_invalid_utf8(tmp_path):
    write(tmp_path, "bad.py", b"import keras\nname = 'caf\xe9'\n")
    assert_one(kc000(tmp_path, "bad.py"), "invalid utf-8 byte 0xe9", line=2, column=12)


def test_coding_cookie_and_bom_are_honoured(tmp_path):
    latin = b"# -*- coding: latin-1 -*-\n" + KERAS.encode() + b"name = 'caf\xe9'\n"
    (tmp_path / "latin.py").write_bytes(latin)
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbf" + KERAS.encode())
    result = invoke("check", "--output-format", "json", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert sorted((d["path"], d["code"], d["line"], d["column"]) for d in data) == [
        ("bom.py", "KC001", 2, 5), ("latin.py", "KC001", 3, 5)]


def test_unknown_encoding(tmp_path):
    write(tmp_path, "bad.py", b"# -*- coding: klingon -*-\nimport keras\n")
    assert_one(kc000(tmp_path, "bad.py"), "encoding")


def test_nul_bytes(tmp_path):
    write(tmp_path, "bad.py", b"import keras\nx = 1\x00\n")
    assert_one(kc000(tmp_path, "bad.py"), "NUL byte", line=2, column=6)


def test_symlink_loop(tmp_path):
    os.symlink(tmp_path / "b.py", tmp_path / "a.py")
    os.symlink(tmp_path / "a.py", tmp_path / "b.py")
    (tmp_path / "good.py").write_text(KERAS)
    assert_one(kc000(tmp_path, "a.py"), "symlink loop")
    assert_one(kc000(tmp_path, "b.py"), "symlink loop")


def test_vanished_file(tmp_path):
    os.symlink(tmp_path / "gone.py", tmp_path / "dangling.py")
    (tmp_path / "good.py").write_text(KERAS)
    assert_one(kc000(tmp_path, "dangling.py"), "vanished")


def test_fifo_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "good.py").write_text(KERAS)
    assert_one(kc000(tmp_path, "pipe.py"), "not a regular file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    write(tmp_path, "secret.py", KERAS.encode())
    (tmp_path / "secret.py").chmod(0)
    assert_one(kc000(tmp_path, "secret.py"), "permission denied")


def test_unreadable_file_in_process(tmp_path, monkeypatch):
    """Root ignores file modes, so simulate the error the OS would give."""
    path = tmp_path / "secret.py"
    path.write_text(KERAS)
    real = Path.read_bytes

    def deny(self):
        if self.name == "secret.py":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    result = _run_in_process([path])
    assert [(f.code, f.message) for f in result.findings] == [("KC000", "permission denied")]


def test_huge_file(tmp_path):
    body = "".join(f"x{i} = layers.BatchNormalization()(layers.Dropout(0.5)(x))\n" for i in range(20_000))
    write(tmp_path, "huge.py", ("from keras import layers\n" + body).encode())
    assert_one(kc000(tmp_path, "huge.py"), "file too large")


def test_max_lines_is_configurable(tmp_path):
    write(tmp_path, "small.py", KERAS.encode())
    (tmp_path / "pyproject.toml").write_text("[tool.kerascheck]\nmax-lines = 1\n")
    assert_one(kc000(tmp_path, "small.py"), "max-lines 1")


@pytest.mark.parametrize("expr", ["(" * 500 + "x" + ")" * 500, "-" * 100_000 + "x", "x" + "+x" * 50_000,
                                  "[" * 180 + "]" * 180])
def test_deeply_nested(tmp_path, expr):
    write(tmp_path, "deep.py", (KERAS + f"y = {expr}\n").encode())
    found = kc000(tmp_path, "deep.py")
    if expr.startswith("["):  # 180 levels is deep but legal: it is checked normally, and KC001 found
        assert [(d["code"], d["line"]) for d in found] == [("KC001", 2)]
    else:
        assert len(found) == 1 and found[0]["code"] == "KC000"
        assert any(w in found[0]["message"] for w in ("nested", "parenthes", "syntax")), found[0]["message"]


def test_deep_indentation(tmp_path):
    code = "".join("    " * i + "if x:\n" for i in range(120)) + "    " * 120 + "pass\n"
    write(tmp_path, "deep.py", (KERAS + code).encode())
    assert_one(kc000(tmp_path, "deep.py"), "indentation")


def _run_in_process(paths, rules=None):
    settings = Settings(root=paths[0].parent)
    rules = rules or registry.load()
    plan = engine.Plan.make(settings, rules, {r.code for r in rules} | {"KC000"})
    return engine.run([Target(p, p.name) for p in paths], plan, jobs=1)


def test_rule_crash_is_reported_and_others_still_run(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(KERAS)

    def explode(ctx):
        raise ZeroDivisionError("boom")
        yield

    broken = Rule("KC998", "always-crashes", "never", needs=(b"Dropout",), anchors=("keras.layers.Dropout",),
                  check=explode)
    result = _run_in_process([path], rules=(*registry.load(), broken))
    got = [(f.code, f.message) for f in result.findings]
    assert ("KC000", "internal error in rule KC998 (always-crashes): ZeroDivisionError: boom") in got
    assert any(code == "KC001" for code, _ in got)


def test_directory_named_like_python_file(tmp_path):
    (tmp_path / "pkg.py").mkdir()
    (tmp_path / "pkg.py" / "inner.py").write_text(KERAS)
    result = invoke("check", "--output-format", "json", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert [d["path"] for d in json.loads(result.stdout)] == ["pkg.py/inner.py"]
