"""Issue 10, items 3-5, each reproducer a test: per-file errors stay per-file; the cache and the
`-o` file are not attack surfaces; configuration errors are usage errors naming the option or
the file, and KC000 is always reported.

No test here touches a real /dev node: FIFOs and symlinks in temporary folders stand in."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from kerascheck import cache as cache_module
from kerascheck import config, discover
from kerascheck.config import Settings
from kerascheck.testing import check_source
from tests.conftest import invoke, run_cli

GOOD = "from keras import layers\nx = layers.BatchNormalization()(layers.Dropout(0.5)(x))\n"


def findings(result) -> list[tuple[str, str, str]]:
    return sorted((f["path"], f["code"], f["message"]) for f in json.loads(result.stdout))


def check_json(cwd: Path, *args: str):
    return invoke("check", "--format", "json", *args, cwd=cwd)


# ------------------------------------------------------------------ 3. per-file errors


@pytest.mark.parametrize(("cookie", "message"), [
    ("undefined", "cannot decode the file as undefined"),
    ("punycode", "cannot decode the file as punycode"),
    ("hex", "the coding cookie names 'hex', which is not a text encoding"),
    ("rot13", "the coding cookie names 'rot13', which is not a text encoding"),
    ("zlib", "the coding cookie names 'zlib', which is not a text encoding"),
    ("klingon", "unknown encoding"),
])
@pytest.mark.parametrize("prefiltered", [False, True], ids=["keras", "skipped-by-prefilter"])
def test_encoding_cookies_are_the_file_s_kc000(tmp_path, cookie, message, prefiltered):
    """`# coding: undefined`, `punycode` (and `idna` on such text) used to end the whole run with
    `internal error: UnicodeError`, even for a file the prefilter would skip."""
    body = "import os\n" if prefiltered else GOOD
    (tmp_path / "bad.py").write_bytes(f"# coding: {cookie}\n{body}".encode())
    (tmp_path / "good.py").write_text(GOOD)
    result = check_json(tmp_path, "--no-cache", ".")
    assert result.returncode == 1 and result.stderr == "", result.stderr
    got = findings(result)
    assert [(p, c) for p, c, _ in got] == [("bad.py", "KC000"), ("good.py", "KC001")]
    assert message in got[0][2]


def test_idna_cookie_that_cannot_decode_is_the_file_s_kc000(tmp_path):
    """idna decodes a label that starts with `xn--` as punycode, which this one is not."""
    (tmp_path / "bad.py").write_bytes(b"# coding: idna\n" + GOOD.encode() + b"HOST = 'www.xn--abc.com'\n")
    (tmp_path / "good.py").write_text(GOOD)
    got = findings(check_json(tmp_path, "--no-cache", "."))
    assert got[0][:2] == ("bad.py", "KC000") and "cannot decode the file as idna" in got[0][2]
    assert got[1][:2] == ("good.py", "KC001")


def test_deep_attribute_chain_in_the_alias_scan_keeps_the_real_finding():
    """A 3,500-deep attribute chain (in a function no rule needs, which libcst never sees) made
    `ast.unparse` in the alias scan raise RecursionError: KC000 replaced the file's KC001."""
    source = GOOD + "def unrelated():\n    y = a" + ".b" * 3500 + "\n    return y\n"
    assert [(f.code, f.line) for f in check_source(source)] == [("KC001", 2)]
    alias = "import keras\nDrop = keras.layers" + ".Dropout" * 1 + "\n" + \
            "def unrelated():\n    z = q" + ".r" * 3500 + "\n" + \
            "x = keras.layers.BatchNormalization()(Drop(0.5)(x))\n"
    assert [(f.code, f.line) for f in check_source(alias)] == [("KC001", 5)]


def test_explicit_file_in_a_directory_that_cannot_be_searched(tmp_path, monkeypatch):
    """`kerascheck check locked/x.py` gave `internal error: PermissionError` from config
    discovery. Root searches any directory, so the OS's refusal is simulated."""
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "x.py").write_text(GOOD)
    (tmp_path / "good.py").write_text(GOOD)
    locked = str(tmp_path / "locked") + os.sep
    real_stat, real_lstat = os.stat, os.lstat

    def deny(real):
        def wrapper(path, *args, **kwargs):
            if os.fspath(path).startswith(locked):
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real(path, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(os, "stat", deny(real_stat))
    monkeypatch.setattr(os, "lstat", deny(real_lstat))
    result = check_json(tmp_path, "--no-cache", "locked/x.py", "good.py")
    assert result.returncode == 1, result.stderr
    assert findings(result) == [("good.py", "KC001", findings(result)[0][2]),
                                ("locked/x.py", "KC000", "permission denied")]


def test_unreadable_subdirectory_met_in_the_walk_is_reported(tmp_path, monkeypatch):
    """It was skipped in silence."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "model.py").write_text(GOOD)
    (tmp_path / "good.py").write_text(GOOD)
    real = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith(os.sep + "sub"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = check_json(tmp_path, "--no-cache", "--no-respect-gitignore", ".")
    assert result.returncode == 1, result.stderr
    assert [(p, c, m) for p, c, m in findings(result) if c == "KC000"] == [
        ("sub", "KC000", "cannot list this directory: permission denied")]


def test_directories_git_cannot_open_are_reported():
    stderr = (b"warning: could not open directory 'models/private/': Permission denied\n"
              b"warning: something else\n")
    assert discover.unopened(stderr) == [("models/private", "Permission denied")]


def _bad_name(tmp_path: Path) -> bytes:
    name = b"bad\xffbyte.py"
    with open(os.path.join(os.fsencode(tmp_path), name), "wb") as fh:
        fh.write(GOOD.encode())
    return name


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_file_names_that_are_not_utf8(tmp_path, fmt):
    """`bad\\xffbyte.py` crashed SARIF output (UnicodeEncodeError) and made JSON invalid UTF-8.
    Each format escapes it its way: `\\xff` in text, JSON and GitHub; `%FF` in SARIF's URI."""
    _bad_name(tmp_path)
    proc = run_cli("check", "--format", fmt, ".", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr
    raw = proc.stdout.encode("utf-8")  # text mode decoded it: it is valid UTF-8
    if fmt == "json":
        assert [f["path"] for f in json.loads(raw)] == ["bad\\xffbyte.py"]
    elif fmt == "sarif":
        [result] = json.loads(raw)["runs"][0]["results"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "bad%FFbyte.py"
    elif fmt == "github":
        assert proc.stdout.startswith("::warning file=bad\\xffbyte.py,line=2,col=5,")
    else:
        assert proc.stdout.startswith("bad\\xffbyte.py:2:5: KC001")
    # The cache kept the file (a JSON escape), so a second run reads it from there.
    again = run_cli("check", "--format", fmt, ".", cwd=tmp_path, env={"KERASCHECK_DEBUG_STATS": "1"})
    assert "cached=1" in again.stderr and again.stdout.splitlines()[0] == proc.stdout.splitlines()[0]


def test_baseline_with_a_file_name_that_is_not_utf8(tmp_path):
    _bad_name(tmp_path)
    wrote = run_cli("check", "--write-baseline", "baseline.json", ".", cwd=tmp_path)
    assert wrote.returncode == 0, wrote.stderr
    assert [e["path"] for e in json.loads((tmp_path / "baseline.json").read_text("utf-8"))["findings"]] == \
        ["bad\\xffbyte.py"]
    used = run_cli("check", "--baseline", "baseline.json", ".", cwd=tmp_path)
    assert used.returncode == 0 and "1 known finding hidden" in used.stderr


# ------------------------------------------------------------------ 4. the cache and -o


def _cache_file(tmp_path: Path) -> Path:
    """Where this project's cache file for the default settings lives (made by a first run)."""
    (tmp_path / "good.py").write_text(GOOD)
    assert invoke("check", ".", cwd=tmp_path).returncode == 1
    [path] = (tmp_path / cache_module.DIRNAME).glob("*/*.json")
    return path


def _still_works(tmp_path: Path) -> None:
    result = invoke("check", ".", cwd=tmp_path, env={"KERASCHECK_DEBUG_STATS": "1"})
    assert result.returncode == 1, result.stderr
    assert "good.py:2:5: KC001" in result.stdout
    assert "parsed=1 cached=0" in result.stderr  # no cache: the file is checked again


@pytest.mark.parametrize("replacement", ["fifo", "symlink-to-fifo", "symlink-to-directory", "deep-json",
                                         "not-json", "too-large"])
def test_cache_reads_only_regular_files_up_to_a_size_cap(tmp_path, monkeypatch, replacement):
    """A cache file replaced by a symlink to /dev/zero was OOM-killed at 24 GB; /dev/urandom or a
    FIFO hung; `'[' * 100000` was `internal error: RecursionError`. Each is "no cache" now."""
    path = _cache_file(tmp_path)
    path.unlink()
    if replacement == "fifo":
        os.mkfifo(path)
    elif replacement == "symlink-to-fifo":
        os.mkfifo(tmp_path / "pipe")
        path.symlink_to(tmp_path / "pipe")
    elif replacement == "symlink-to-directory":
        path.symlink_to(tmp_path)
    elif replacement == "deep-json":
        path.write_text("[" * 100_000)
    elif replacement == "not-json":
        path.write_bytes(b"\xff\xfe\x00garbage")
    else:
        path.write_text(json.dumps({"format": cache_module.FORMAT, "files": {}}) + " " * 2000)
        monkeypatch.setattr(cache_module, "MAX_BYTES", 1000)
    _still_works(tmp_path)


def test_output_through_a_symlink_to_a_fifo_is_written_in_place(tmp_path):
    """`-o` must never replace what is not a regular file (`-o /dev/full` as root destroyed the
    device node): a symlink to a FIFO stands in for a symlink to a device."""
    (tmp_path / "good.py").write_text(GOOD)
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "report.json").symlink_to(tmp_path / "pipe")
    fd = os.open(tmp_path / "pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        result = invoke("check", "--format", "json", "-o", "report.json", ".", cwd=tmp_path)
        received = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    assert result.returncode == 1, result.stderr
    assert [f["path"] for f in json.loads(received)] == ["good.py"]
    assert (tmp_path / "report.json").is_symlink() and stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".kerascheck_cache", "good.py", "pipe", "report.json"]


def test_output_to_a_dangling_symlink_creates_its_target(tmp_path):
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "latest.txt").symlink_to(tmp_path / "reports" / "today.txt")
    assert invoke("check", "-o", "latest.txt", ".", cwd=tmp_path).returncode == 1
    assert (tmp_path / "latest.txt").is_symlink()
    assert "good.py:2:5: KC001" in (tmp_path / "reports" / "today.txt").read_text(encoding="utf-8")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_output_to_proc_self_fd_1_writes_to_stdout(tmp_path):
    """`-o /proc/self/fd/1` is a symlink to the process's stdout (a pipe here): written in place."""
    (tmp_path / "good.py").write_text(GOOD)
    proc = run_cli("check", "--format", "json", "-o", "/proc/self/fd/1", ".", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert [f["path"] for f in json.loads(proc.stdout)] == ["good.py"]


def test_output_to_a_fifo_whose_reader_goes_away_is_not_replaced(tmp_path):
    """Like `-o /dev/full`, a special file whose write fails: an error, and the FIFO stays."""
    (tmp_path / "good.py").write_text(GOOD * 2000)  # a report larger than the pipe's buffer
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)

    def read_a_little_and_go():
        with open(fifo, "rb") as fh:
            fh.read(10)

    reader = threading.Thread(target=read_a_little_and_go, daemon=True)
    reader.start()
    proc = run_cli("check", "--no-cache", "-o", str(fifo), ".", cwd=tmp_path)
    reader.join(timeout=60)
    assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out.fifo")) == []


# ------------------------------------------------------------------ 5. configuration errors


@pytest.mark.parametrize(("args", "config_text", "needle"), [
    (("--exclude", "!"), None, "--exclude '!': not a valid gitignore-style pattern"),
    (("--extend-exclude", "\\"), None, "--extend-exclude '\\\\': not a valid gitignore-style pattern"),
    ((), 'exclude = ["!"]', "'exclude' in pyproject.toml holds '!', which is not a valid gitignore-style pattern"),
    ((), 'per-file-ignores = { "!" = ["KC001"] }',
     """'per-file-ignores."!"' in pyproject.toml is not a valid gitignore-style pattern"""),
    ((), 'per-file-ignores = { "" = ["KC001"] }',
     """'per-file-ignores.""' in pyproject.toml is not a valid gitignore-style pattern"""),
    (("--select", ""), None, "--select names no rule code"),
    (("--select", ","), None, "--select names no rule code"),
    ((), "select = []", "'select' in pyproject.toml is empty"),
    ((), "x = " + "[" * 5000 + "]" * 5000, "invalid TOML in"),
    ((), "x = " + "{ a = " * 5000 + "1" + " }" * 5000, "invalid TOML in"),
])
def test_configuration_errors_are_usage_errors(tmp_path, args, config_text, needle):
    (tmp_path / "good.py").write_text(GOOD)
    if config_text is not None:
        (tmp_path / "pyproject.toml").write_text(f"[tool.kerascheck]\n{config_text}\n")
    result = invoke("check", *args, ".", cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert result.stderr.startswith("kerascheck: error: ") and "internal error" not in result.stderr
    assert needle in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_config_that_is_not_utf8_is_an_error(tmp_path):
    """A non-UTF-8 pyproject.toml holding [tool.kerascheck] was ignored in silence."""
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "pyproject.toml").write_bytes(b'[tool.kerascheck]\nignore = ["KC001"]\n# caf\xe9\n')
    result = invoke("check", ".", cwd=tmp_path)
    assert result.returncode == 2
    assert "pyproject.toml is not valid UTF-8" in result.stderr
    (tmp_path / "pyproject.toml").write_bytes(b'[project]\nname = "caf\xe9"\n')  # not ours: not judged
    assert invoke("check", ".", cwd=tmp_path).returncode == 1


def test_a_broken_gitignore_line_is_skipped_as_git_does(tmp_path):
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "ignored.py").write_text(GOOD)
    (tmp_path / ".gitignore").write_text("!\n\\\nignored.py\n")
    result = check_json(tmp_path, "--no-cache", ".")
    assert [p for p, _, _ in findings(result)] == ["good.py"]


@pytest.mark.parametrize("args", [("--ignore", "KC000"), ("--select", "KC001")])
def test_kc000_is_always_reported(tmp_path, args):
    """Like ruff's syntax errors: --select and --ignore do not turn it off."""
    (tmp_path / "broken.py").write_text(GOOD + "def f(:\n")
    result = check_json(tmp_path, "--no-cache", *args, ".")
    assert result.returncode == 1
    assert [(p, c) for p, c, _ in findings(result)] == [("broken.py", "KC000")]


def test_file_timeout_and_memory_are_settings(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.kerascheck]\nfile-timeout = 2.5\nfile-memory = 512\n")
    settings = config.resolve((str(tmp_path),), None, {}, {})
    assert (settings.file_timeout, settings.file_memory) == (2.5, 512)
    assert Settings().file_timeout == 20 and Settings().file_memory == 4096
    override = config.resolve((str(tmp_path),), None, {"file_timeout": 7.0, "file_memory": None}, {})
    assert (override.file_timeout, override.file_memory) == (7.0, 512)
    for bad in ("file-timeout = 0", "file-timeout = -1", 'file-timeout = "20"', "file-memory = 0",
                "file-memory = 1.5", "file-timeout = inf"):
        (tmp_path / "pyproject.toml").write_text(f"[tool.kerascheck]\n{bad}\n")
        with pytest.raises(config.ConfigError, match=bad.split(" ")[0]):
            config.resolve((str(tmp_path),), None, {}, {})
    result = invoke("check", "--file-timeout", "0", ".", cwd=tmp_path)
    assert result.returncode == 2 and "--file-timeout" in result.stderr
