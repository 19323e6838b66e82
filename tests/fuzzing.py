"""The fuzzing harness shared by tests/test_fuzz.py (bounded, in the default run) and bench/fuzz.py
(as long as asked).

Inputs:
- programs from hypothesmith (`from_grammar`, `from_node`), between Keras imports and a comment
  holding every rule's prefilter words, so that they are parsed and analysed, not skipped;
- byte-level mutants of the rule fixtures: truncated, a byte flipped, a NUL, CRLF or CR line
  ends, form feeds and the other characters `str.splitlines()` breaks at, a BOM, coding cookies.

`check_batch` checks a batch of such files, beside an unrelated good file, with the command
line (in process) three ways: `--jobs 1`, `--jobs 2`, `--jobs 2 --full-parse`; it returns the
failures, by class:

- `traceback`: an exception escaped, or stderr holds a traceback or an internal error;
- `exit-code`: an exit code other than 0 or 1 (or output that is not JSON);
- `jobs-mismatch`: `--jobs 1` and `--jobs 2` disagree;
- `full-parse-mismatch`: the partial parse (blanking what no rule needs) and the full parse
  disagree;
- `lost-good-finding`: the good file's findings are not what it gets alone.

and counts of what the files got (`kc000 <reason>`), which are not failures.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "import keras\nimport numpy as np\nimport tensorflow as tf\nfrom keras import layers\n\n"
# Every rule's prefilter words (`needs`), so that every rule runs on the program.
SUFFIX = ("\n# Dropout BatchNormalization Input keep Layer def call Lambda nn.dropout( kernel_constraint=\n"
          "# NonNeg non_neg tf.keras from keras import x\n")
GOOD = ROOT / "fixtures" / "kc001" / "sequential_styles.py"  # the unrelated good file: it has findings
FIXTURES = sorted(p for p in (ROOT / "fixtures").glob("kc*/*.py"))
LINE_BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
COOKIES = [b"latin-1", b"utf-8", b"utf-16", b"ascii", b"cp1252", b"undefined", b"idna", b"punycode", b"hex",
           b"rot13", b"zlib", b"klingon", b"utf-8-sig"]
FAILURES = ("traceback", "exit-code", "jobs-mismatch", "full-parse-mismatch", "lost-good-finding")


def _program(source: str) -> bytes:
    return (PREFIX + source + SUFFIX).encode("utf-8", "surrogatepass")


def grammar_programs():
    import hypothesmith

    return hypothesmith.from_grammar().map(_program)


def node_programs():
    import hypothesmith

    return hypothesmith.from_node().map(_program)


def _mutate(data: bytes, op: str, where: float, value: int) -> bytes:
    at = int(where * len(data))
    if op == "truncate":
        return data[:at]
    if op == "flip":
        return data[:at] + bytes([data[at] ^ (value or 1)]) + data[at + 1:] if data else data
    if op == "nul":
        return data[:at] + b"\x00" + data[at:]
    if op == "crlf":
        return data.replace(b"\n", b"\r\n")
    if op == "cr":
        return data.replace(b"\n", b"\r")
    if op == "formfeed":  # at a line start: whitespace for Python, a line break for str.splitlines()
        start = data.rfind(b"\n", 0, at) + 1
        return data[:start] + b"\x0c" * (1 + value % 3) + data[start:]
    if op == "formfeed-line":
        start = data.rfind(b"\n", 0, at) + 1
        return data[:start] + b"\x0c\n" + data[start:]
    if op == "break-in-comment":  # a character str.splitlines() breaks at, inside a comment
        end = data.find(b"\n", at)
        end = len(data) if end == -1 else end
        return data[:end] + f"  # {LINE_BREAKS[value % len(LINE_BREAKS)]} x".encode() + data[end:]
    if op == "bom":
        return b"\xef\xbb\xbf" + data
    if op == "cookie":
        return b"# -*- coding: " + COOKIES[value % len(COOKIES)] + b" -*-\n" + data
    if op == "insert-byte":
        return data[:at] + bytes([value % 256]) + data[at:]
    raise ValueError(op)


OPS = ("truncate", "flip", "nul", "crlf", "cr", "formfeed", "formfeed-line", "break-in-comment", "bom", "cookie",
       "insert-byte")


@st.composite
def mutants(draw):
    """A rule fixture with one to three byte-level mutations."""
    data = draw(st.sampled_from(FIXTURES)).read_bytes()
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(OPS))
        data = _mutate(data, op, draw(st.floats(0, 1, exclude_max=True)), draw(st.integers(0, 255)))
    return data


# ------------------------------------------------------------------ running and judging


def _run(cwd: Path, *args: str):
    """The command line in this process: (exit code, stdout, stderr), or an escaped exception."""
    from click.testing import CliRunner

    from kerascheck.cli import main

    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(main, ["check", "--no-cache", "--format", "json", *args, "."],
                                    env={"NO_COLOR": "1"}, catch_exceptions=True)
    finally:
        os.chdir(before)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        return None, "", "".join(traceback.format_exception(result.exception))
    return result.exit_code, result.stdout, result.stderr


def _findings(stdout: str) -> set[tuple] | None:
    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    return {(f["path"], f["code"], f["line"], f["column"], f["message"]) for f in data}


_GOOD_ALONE: set[tuple] | None = None


def good_alone() -> set[tuple]:
    """The good file's findings when it is checked alone."""
    global _GOOD_ALONE
    if _GOOD_ALONE is None:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "good.py").write_bytes(GOOD.read_bytes())
            code, out, err = _run(Path(tmp), "--jobs", "1")
            assert code == 1 and err == "", err
            _GOOD_ALONE = _findings(out)
            assert _GOOD_ALONE
    return _GOOD_ALONE


def kc000_reason(message: str) -> str:
    """A KC000 message's kind, for the counts: its text up to the first colon or digit."""
    return re.split(r"[:(\d]", message, 1)[0].strip()


def check_batch(files: list[bytes], tmp: Path, counts: Counter | None = None) -> list[tuple[str, str]]:
    """Check `files` (as fuzz_NNN.py) beside the good file: the failures, as (class, detail)."""
    for old in tmp.iterdir():
        old.unlink()
    names = {}
    for i, data in enumerate(files):
        name = f"fuzz_{i:03d}.py"
        (tmp / name).write_bytes(data)
        names[name] = data
    (tmp / "good.py").write_bytes(GOOD.read_bytes())
    failures: list[tuple[str, str]] = []
    results = {}
    for label, args in (("jobs1", ("--jobs", "1")), ("jobs2", ("--jobs", "2")),
                        ("full", ("--jobs", "2", "--full-parse"))):
        code, out, err = _run(tmp, *args)
        if code is None or "Traceback" in err or "internal error" in err:
            failures.append(("traceback", f"{label}: {err.strip()[-500:]}"))
            continue
        found = _findings(out)
        if code not in (0, 1) or found is None:
            failures.append(("exit-code", f"{label}: exit {code}: {err.strip()[-300:]}"))
            continue
        results[label] = found
    if "jobs1" in results and "jobs2" in results and results["jobs1"] != results["jobs2"]:
        failures.append(("jobs-mismatch", _diff(results["jobs1"], results["jobs2"])))
    if "jobs2" in results and "full" in results and results["jobs2"] != results["full"]:
        failures.append(("full-parse-mismatch", _diff(results["jobs2"], results["full"])))
    for label, found in results.items():
        good = {f for f in found if f[0] == "good.py"}
        if good != good_alone():
            failures.append(("lost-good-finding", f"{label}: {_diff(good_alone(), good)}"))
    if counts is not None and "jobs1" in results:
        for f in results["jobs1"]:
            if f[0] != "good.py":
                counts["kc000 " + kc000_reason(f[4]) if f[1] == "KC000" else f"finding {f[1]}"] += 1
        counts["files"] += len(files)
    return failures


def _diff(a: set, b: set) -> str:
    return f"only in the first: {sorted(a - b)[:3]}; only in the second: {sorted(b - a)[:3]}"
