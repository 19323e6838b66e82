"""Which Keras a project runs on, read from its dependency files (never executed).

`Inference(...)`, one per run, answers `facts_for(path)`: the folders above a file are searched,
nearest first, for the dependency files a project keeps (below); the first folder whose files
pin TensorFlow, Keras or tf-keras decides, up to and including the repository root (a folder
with `.git`), never into the home folder from below. Each folder is read once per run, so a run over 1,000 files reads the project's
requirement files once.

Sources, in the order they are consulted within one folder:

- `requirements.txt`, then the other `requirements*.txt` and `requirements/*.txt` (with the
  `-r` files they include and the `-c` constraint files they name);
- `Pipfile` (`[packages]`, `[dev-packages]`), `environment.yml` / `environment.yaml`
  (conda and `pip:` entries);
- `pyproject.toml`: PEP 621 `dependencies` and `optional-dependencies`, PEP 735
  `dependency-groups`, Poetry's `dependencies` and groups;
- `setup.cfg` (`install_requires`, `extras_require`) and `setup.py` (`install_requires` /
  `extras_require` of `setup(...)`, read as literals: a list, or a name bound once to one).

TensorFlow (`tensorflow`, `-cpu`, `-gpu`, `-macos`, `-intel`, `-aarch64`) below 2.16, `keras` below
3 or `tf-keras` below 2.16 means Keras 2 (`tf.keras` is Keras 3 from TF 2.16 on, KERAS_FACTS G.1);
a pin that allows TF >= 2.16 or keras >= 3 means Keras 3 (pip installs the newest). An exact or
upper-bounded pin ("hard") wins over an open one (`>=2.4`); the first hard verdict decides and
a later source that disagrees is noted. A file that cannot be read or parsed, a `setup.py` whose
requirements are not literals, and a source whose own pins conflict are skipped, with a note:
never an error.
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from kerascheck.facts import DEFAULT, ProjectFacts
from kerascheck.lines import count_lines, split_lines

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TF_PACKAGES = frozenset({"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos", "tensorflow-intel",
                         "tensorflow-aarch64"})
# Package -> the first version that means Keras 3 (below it: Keras 2).
THRESHOLDS = {**{p: (2, 16) for p in TF_PACKAGES}, "keras": (3,), "tf-keras": (2, 16)}
MAX_INCLUDE_DEPTH = 5
MAX_FILE_BYTES = 1 << 20  # dependency files larger than this are not dependency files


# ------------------------------------------------------------------ pins and verdicts


@dataclass(frozen=True)
class Pin:
    """One requirement of a Keras-deciding package, where it was written."""

    package: str
    spec: str  # as written, for messages
    where: str  # "requirements.txt:3"
    verdict: str | None  # "2" | "3" | None (no version information)
    hard: bool = False  # bounded above (or below at the threshold): not a guess about pip's choice

    def describe(self) -> str:
        return f"{self.where}: {self.package}{self.spec}".rstrip()


def _version(text: str) -> tuple[int, ...] | None:
    """`2.6.0` -> (2, 6, 0); pre/post/dev suffixes are dropped; None if not a version."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", text)
    if not match:
        return None
    return tuple(int(p) for p in match.group(1).split("."))


def _cmp(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = max(len(a), len(b))
    a, b = a + (0,) * (n - len(a)), b + (0,) * (n - len(b))
    return (a > b) - (a < b)


_CLAUSE = re.compile(r"\s*(===|==|~=|!=|<=|>=|<|>|=|\^|~)?\s*([^\s,]+)\s*$")


def bounds(spec: str) -> tuple[tuple[tuple[int, ...], bool] | None, tuple[int, ...] | None] | None:
    """(upper bound (version, inclusive) or None, lower bound or None) of a version
    specifier: PEP 440 (`==2.6.*`, `~=2.6.0`, `>=2.4,<2.11`), Poetry (`^2.6`, `~2.6`, `2.6.0`,
    `||`) or conda (`=2.6`, `2.6.*`). None when it cannot be read; ((None, None)) for no bound."""
    spec = spec.strip()
    if not spec or spec == "*":
        return None, None
    if "||" in spec or "|" in spec:  # Poetry / conda alternatives: the widest one counts
        parts = [bounds(p) for p in re.split(r"\|\|?", spec)]
        if any(p is None for p in parts):
            return None
        uppers = [p[0] for p in parts]
        lowers = [p[1] for p in parts]
        upper = None if any(u is None for u in uppers) else max(uppers, key=lambda u: (u[0] + (0,) * 4)[:5] + (u[1],))
        lower = None if any(lw is None for lw in lowers) else min(lowers, key=lambda v: (v + (0,) * 4)[:5])
        return upper, lower
    upper: tuple[tuple[int, ...], bool] | None = None
    lower: tuple[int, ...] | None = None

    def cap(version: tuple[int, ...], inclusive: bool) -> None:
        nonlocal upper
        if upper is None or _cmp(version, upper[0]) < 0 or (_cmp(version, upper[0]) == 0 and not inclusive):
            upper = (version, inclusive)

    def floor(version: tuple[int, ...]) -> None:
        nonlocal lower
        if lower is None or _cmp(version, lower) > 0:
            lower = version

    for clause in spec.split(","):
        if not clause.strip():
            continue
        match = _CLAUSE.match(clause)
        if not match:
            return None
        op, text = match.group(1) or "==", match.group(2)
        wildcard = text.endswith(".*") or text == "*"
        version = _version(text.rstrip(".*")) if text != "*" else ()
        if version is None:
            return None
        if op == "!=" or (text == "*" and op in ("==", "=")):
            continue
        if op in ("==", "===", "=") and not wildcard and op != "=":
            cap(version, True)
            floor(version)
        elif op in ("==", "===", "=") or (op == "~" and len(version) >= 2):
            # `==2.6.*`, conda's fuzzy `=2.6` and Poetry's `~2.6`: the same release prefix.
            if not version:
                continue
            cap(version[:-1] + (version[-1] + 1,), False)
            floor(version)
        elif op == "~":  # `~2`: < 3
            cap((version[0] + 1,), False)
            floor(version)
        elif op == "~=":
            if len(version) < 2:
                return None
            prefix = version[:-1]
            cap(prefix[:-1] + (prefix[-1] + 1,), False)
            floor(version)
        elif op == "^":
            first = next((i for i, v in enumerate(version) if v != 0), len(version) - 1)
            cap(version[:first] + (version[first] + 1,), False)
            floor(version)
        elif op == "<":
            cap(version, False)
        elif op == "<=":
            cap(version, True)
        elif op in (">=", ">"):
            floor(version)
    return upper, lower


def verdict(package: str, spec: str) -> tuple[str | None, bool]:
    """("2" | "3" | None, hard) for one package's specifier."""
    threshold = THRESHOLDS[package]
    got = bounds(spec)
    if got is None or got == (None, None):
        return None, False
    upper, lower = got
    if upper is not None:
        version, inclusive = upper
        c = _cmp(version, threshold)
        if c < 0 or (c == 0 and not inclusive):
            return "2", True
    if package == "tf-keras":
        return None, False  # tf-keras >= 2.16 says nothing about what `tf.keras` is
    if lower is not None and _cmp(lower, threshold) >= 0:
        return "3", True
    return "3", False  # open above: pip installs the newest


_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$", re.S)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement(text: str, where: str) -> Pin | None | bool:
    """A PEP 508 requirement string -> a Pin for a Keras-deciding package, None for another
    package, False when it is not a requirement at all."""
    text = text.split(";", 1)[0].strip()  # environment markers: the pin holds where it applies
    if not text:
        return None
    match = _NAME.match(text)
    if not match:
        return False
    name, rest = _normal(match.group(1)), match.group(3).strip()
    if rest.startswith("@"):  # a direct URL: no version to read
        return Pin(name, f" {rest}", where, None) if name in THRESHOLDS else None
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1]
    if rest and not re.match(r"(===|==|~=|!=|<=|>=|<|>)", rest):
        return False
    if name not in THRESHOLDS:
        return None
    found, hard = verdict(name, rest)
    return Pin(name, rest, where, found, hard)


# ------------------------------------------------------------------ sources


class Unusable(Exception):
    """A source that cannot be read as pins: skipped, with this note."""


@dataclass
class Source:
    """What one dependency file (with its includes) says."""

    name: str  # as shown: relative to the folder searched
    pins: list[Pin] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def decide(self) -> tuple[str, Pin] | None | str:
        """(verdict, deciding pin); None: nothing decided; a string: why it was skipped."""
        hard = {p.verdict for p in self.pins if p.verdict and p.hard}
        if len(hard) > 1:
            two = next(p for p in self.pins if p.hard and p.verdict == "2")
            three = next(p for p in self.pins if p.hard and p.verdict == "3")
            return f"{self.name}: conflicting pins ({two.describe()} vs {three.describe()}); skipped"
        for p in self.pins:
            if p.verdict and p.hard:
                return p.verdict, p
        for p in self.pins:
            if p.verdict:
                return p.verdict, p
        return None


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise Unusable(f"{path.name}: larger than {MAX_FILE_BYTES // 1024} KiB; skipped")
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise Unusable(f"{path.name}: not UTF-8 text; skipped") from None
    except OSError as exc:
        raise Unusable(f"{path.name}: cannot be read ({exc.strerror or exc}); skipped") from None


_OPTION_WITH_FILE = re.compile(r"(-r|--requirement|-c|--constraint)(?:\s+|=)(\S+)")


def read_requirements(path: Path, shown: str, root: Path, seen: set[Path] | None = None, depth: int = 0) -> Source:
    """A requirements file (pip's format), with its `-r` / `-c` files."""
    seen = set() if seen is None else seen
    seen.add(path.resolve())
    source = Source(shown)
    text = _read(path)
    joined = re.sub(r"\\\r?\n", " ", text)  # continuation lines
    for number, raw in enumerate(joined.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if not line:
            continue
        where = f"{shown}:{number}"
        if line.startswith("-"):
            included = _OPTION_WITH_FILE.match(line)
            if included is None:
                continue  # -e ., --index-url, --hash, ...
            target = (path.parent / included.group(2)).resolve()
            if "://" in included.group(2) or depth >= MAX_INCLUDE_DEPTH or target in seen:
                continue
            try:
                name = target.relative_to(root).as_posix()
            except ValueError:
                name = target.as_posix()
            if not target.is_file():
                source.notes.append(f"{where}: {included.group(2)} does not exist")
                continue
            try:
                inner = read_requirements(target, name, root, seen, depth + 1)
            except Unusable as exc:
                source.notes.append(str(exc))
                continue
            source.pins.extend(inner.pins)
            source.notes.extend(inner.notes)
            continue
        if "://" in line or line.startswith((".", "/", "~")) or re.search(r"\.(whl|zip|tar\.gz|tgz)$", line):
            continue  # URLs, paths and archives
        pin = requirement(line, where)
        if pin is False:
            raise Unusable(f"{shown}:{number}: not a requirement ({raw.strip()[:40]!r}); {shown} skipped")
        if pin is not None:
            source.pins.append(pin)
    return source


def _line_of(text: str, needle: str, start: int = 1) -> int:
    """The first line (from `start`) that mentions `needle`, for messages; 0 if none."""
    lines = text.splitlines()
    for number in range(max(1, start), len(lines) + 1):
        if needle in lines[number - 1]:
            return number
    return 0


def _pins_from_strings(items, text: str, shown: str, what: str) -> list[Pin]:
    pins = []
    for item in items:
        if not isinstance(item, str):
            raise Unusable(f"{shown}: {what} is not a list of strings; skipped")
        pin = requirement(item, shown)
        if pin is False:
            raise Unusable(f"{shown}: {what} holds {item[:40]!r}, not a requirement; skipped")
        if pin is not None:
            line = _line_of(text, item.strip()[:30]) or _line_of(text, item.split(";")[0].strip()[:12])
            pins.append(replace(pin, where=f"{shown}:{line}" if line else shown))
    return pins


def _poetry_pins(table, text: str, shown: str) -> list[Pin]:
    pins = []
    if not isinstance(table, dict):
        return pins
    for name, value in table.items():
        package = _normal(str(name))
        if package not in THRESHOLDS:
            continue
        if isinstance(value, dict):
            value = value.get("version", "")
        if isinstance(value, list):  # multiple constraints: the first one with a version
            value = next((v.get("version", "") for v in value if isinstance(v, dict)), "")
        if not isinstance(value, str):
            continue
        found, hard = verdict(package, value)
        line = _line_of(text, str(name))
        pins.append(Pin(package, value if value[:1] in ("=", "<", ">", "!") else f" {value}",
                        f"{shown}:{line}" if line else shown, found, hard))
    return pins


def _toml(path: Path, shown: str) -> tuple[str, dict]:
    text = _read(path)
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Unusable(f"{shown}: invalid TOML ({exc}); skipped") from None


def read_pyproject(path: Path, shown: str) -> Source:
    text, data = _toml(path, shown)
    source = Source(shown)
    project = data.get("project")
    if isinstance(project, dict):
        source.pins += _pins_from_strings(project.get("dependencies", []) or [], text, shown, "[project] dependencies")
        extras = project.get("optional-dependencies", {})
        if isinstance(extras, dict):
            for group, items in extras.items():
                source.pins += _pins_from_strings(items or [], text, shown, f"optional-dependencies.{group}")
    groups = data.get("dependency-groups")
    if isinstance(groups, dict):
        for group, items in groups.items():
            source.pins += _pins_from_strings([i for i in items or [] if isinstance(i, str)], text, shown,
                                              f"dependency-groups.{group}")
    poetry = data.get("tool", {}).get("poetry") if isinstance(data.get("tool"), dict) else None
    if isinstance(poetry, dict):
        source.pins += _poetry_pins(poetry.get("dependencies"), text, shown)
        source.pins += _poetry_pins(poetry.get("dev-dependencies"), text, shown)
        for group in (poetry.get("group") or {}).values() if isinstance(poetry.get("group"), dict) else ():
            if isinstance(group, dict):
                source.pins += _poetry_pins(group.get("dependencies"), text, shown)
    return source


def read_pipfile(path: Path, shown: str) -> Source:
    text, data = _toml(path, shown)
    source = Source(shown)
    for section in ("packages", "dev-packages"):
        source.pins += _poetry_pins(data.get(section), text, shown)
    return source


def read_setup_cfg(path: Path, shown: str) -> Source:
    text = _read(path)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise Unusable(f"{shown}: not an INI file ({str(exc).splitlines()[0]}); skipped") from None
    source = Source(shown)
    items = []
    if parser.has_option("options", "install_requires"):
        items += parser.get("options", "install_requires").splitlines()
    if parser.has_section("options.extras_require"):
        for _, value in parser.items("options.extras_require"):
            items += value.splitlines()
    for item in items:
        item = item.split("#", 1)[0].strip()
        if not item:
            continue
        pin = requirement(item, shown)
        if pin is False:
            if item.startswith(("file:", "attr:")):
                raise Unusable(f"{shown}: install_requires is read from {item!r}, not written out; skipped")
            raise Unusable(f"{shown}: install_requires holds {item[:40]!r}, not a requirement; skipped")
        if pin is not None:
            line = _line_of(text, item)
            source.pins.append(replace(pin, where=f"{shown}:{line}" if line else shown))
    return source


def read_setup_py(path: Path, shown: str) -> Source:
    """`install_requires` and `extras_require` of `setup(...)`, as literals (never executed)."""
    text = _read(path)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise Unusable(f"{shown}: not valid Python; skipped") from None
    bound: dict[str, list[ast.AST]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound.setdefault(target.id, []).append(node.value)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and (
        (isinstance(n.func, ast.Name) and n.func.id == "setup")
        or (isinstance(n.func, ast.Attribute) and n.func.attr == "setup"))]
    source = Source(shown)
    for call in calls:
        for kw in call.keywords:
            if kw.arg not in ("install_requires", "extras_require"):
                continue
            value = kw.value
            if isinstance(value, ast.Name) and len(bound.get(value.id, ())) == 1:
                value = bound[value.id][0]
            try:
                literal = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                raise Unusable(f"{shown}:{kw.value.lineno}: {kw.arg} is not a literal (kerascheck never runs "
                               f"setup.py); skipped") from None
            groups = literal.values() if kw.arg == "extras_require" and isinstance(literal, dict) else [literal]
            for group in groups:
                if isinstance(group, str):
                    group = [group]
                if not isinstance(group, (list, tuple)):
                    raise Unusable(f"{shown}:{kw.value.lineno}: {kw.arg} is not a list; skipped")
                source.pins += _pins_from_strings(list(group), text, shown, kw.arg)
    return source


_CONDA = re.compile(r"^\s*-\s+(?:[\w.-]+::)?([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*?)\s*(?:#.*)?$")


def read_environment(path: Path, shown: str) -> Source:
    """A conda environment file: `- tensorflow=2.6`, `- tensorflow==2.6.0`, `- pip:` lists."""
    text = _read(path)
    source = Source(shown)
    in_deps = False
    deps_indent = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip())
        if not raw.startswith((" ", "\t", "-")):
            in_deps = stripped.split("#")[0].strip() == "dependencies:"
            deps_indent = indent
            continue
        if not in_deps or indent < deps_indent or not stripped.startswith("-"):
            continue
        item = stripped[1:].strip().strip("'\"")
        if item.endswith(":"):  # `- pip:`
            continue
        where = f"{shown}:{number}"
        if re.match(r"[A-Za-z0-9][\w.-]*\s*(\[[^\]]*\])?\s*(===|==|~=|!=|<=|>=|<|>|@|;|$)", item) and "=" not in item[:1]:
            pin = requirement(item, where)  # pip syntax (also conda's `==`)
            if pin is False:
                pin = None
        else:  # conda: `name=2.6`, `name 2.6.*`, `name=2.6.0=build`
            match = _CONDA.match("- " + item)
            pin = None
            if match:
                name = _normal(match.group(1))
                spec = match.group(2).strip()
                if spec.startswith("=") and not spec.startswith("=="):
                    spec = "=" + spec[1:].split("=", 1)[0]
                elif spec and spec[0].isdigit():
                    spec = "=" + spec.split()[0]
                if name in THRESHOLDS:
                    found, hard = verdict(name, spec)
                    pin = Pin(name, spec, where, found, hard)
        if pin is not None:
            source.pins.append(pin)
    return source


def _sources(folder: Path) -> list[tuple[Path, str, object]]:
    """The dependency files of one folder, in the order they are consulted."""
    try:
        names = {entry.name: entry for entry in folder.iterdir()}
    except OSError:
        return []
    found: list[tuple[Path, str, object]] = []
    requirements = sorted(n for n in names if n.startswith("requirements") and n.endswith(".txt"))
    if "requirements.txt" in requirements:
        requirements.remove("requirements.txt")
        requirements.insert(0, "requirements.txt")
    found += [(names[n], n, read_requirements) for n in requirements]
    sub = names.get("requirements")
    if sub is not None and sub.is_dir():
        try:
            found += [(p, f"requirements/{p.name}", read_requirements) for p in sorted(sub.glob("*.txt"))]
        except OSError:
            pass
    for name, reader in (("Pipfile", read_pipfile), ("environment.yml", read_environment),
                         ("environment.yaml", read_environment), ("pyproject.toml", read_pyproject),
                         ("setup.cfg", read_setup_cfg), ("setup.py", read_setup_py)):
        if name in names:
            found.append((names[name], name, reader))
    return [(p, n, r) for p, n, r in found if p.is_file()]


@dataclass(frozen=True)
class FolderVerdict:
    """What one folder's dependency files say."""

    keras: str | None  # None: nothing pinned here
    source: str = ""  # the deciding pin, "requirements.txt:3: tensorflow==2.6.0"
    notes: tuple[str, ...] = ()
    read: int = 0  # files read, for tests


def judge(folder: Path) -> FolderVerdict:
    """The verdict of one folder's dependency files (no caching here)."""
    notes: list[str] = []
    decided: tuple[str, Pin] | None = None
    soft: tuple[str, Pin] | None = None
    read = 0
    for path, shown, reader in _sources(folder):
        read += 1
        try:
            source = reader(path, shown, folder) if reader is read_requirements else reader(path, shown)
        except Unusable as exc:
            notes.append(str(exc))
            continue
        except RecursionError:
            notes.append(f"{shown}: too deeply nested; skipped")
            continue
        notes.extend(source.notes)
        got = source.decide()
        if isinstance(got, str):
            notes.append(got)
            continue
        if got is None:
            continue
        keras, pin = got
        if pin.hard:
            if decided is None:
                decided = got
            elif decided[0] != keras:
                notes.append(f"{pin.describe()} says Keras {keras}; {decided[1].where} decides")
        elif soft is None:
            soft = got
    final = decided or soft
    if final is None:
        return FolderVerdict(None, notes=tuple(notes), read=read)
    keras, pin = final
    return FolderVerdict(keras, pin.describe(), tuple(notes), read)


# ------------------------------------------------------------------ per file


# Lines end at \n, \r\n or \r (kerascheck.lines): `_LINE_START` is `^` for all three.
_LINE_START = r"(?:^|(?<=\r))"
_IMPORT_MARKER = re.compile(
    # `import tf_keras`, also in a list (`import tensorflow as tf, tf_keras`, as the Model Garden writes it)
    _LINE_START + r"[ \t]*(?:import[ \t]+(?:[\w.]+(?:[ \t]+as[ \t]+\w+)?[ \t]*,[ \t]*)*(?:tf_keras|tensorflow\.python\.keras)\b"
    r"|from[ \t]+tf_keras\b|from[ \t]+tensorflow\.python\.keras\b|from[ \t]+tensorflow\.python[ \t]+import[ \t]+keras\b)",
    re.M)
_ENV_MARKER = re.compile(_LINE_START + r"[^#\r\n]*TF_USE_LEGACY_KERAS", re.M)
MAX_MARKERS = 3  # of each kind: the first decides, a few more are shown


_PIP = re.compile(_LINE_START + r"[ \t]*[!%]?[ \t]*(?:python3?[ \t]+-m[ \t]+)?pip3?[ \t]+install\b([^\r\n#]*)", re.M)
_PIP_ITEM = re.compile(r"""["']?([A-Za-z0-9][\w.-]*)(?:\[[^\]]*\])?((?:(?:===|==|~=|!=|<=|>=|<|>)[^\s,"';]+,?)+)""")


def markers(text: str) -> tuple[tuple[str, int, str], ...]:
    """The file's own signs of Keras 2 (KERAS_FACTS G.2, F4.10): (kind, line, code) for imports of
    tf_keras / tensorflow.python.keras ("import"), code that mentions TF_USE_LEGACY_KERAS ("env"),
    and a notebook's `!pip install tensorflow==2.10` ("pip": the whole environment is Keras 2).
    Lines of comments do not count."""
    if "tf_keras" not in text and "python.keras" not in text and "python import keras" not in text \
            and "TF_USE_LEGACY_KERAS" not in text and "install" not in text:
        return ()
    found = []

    def where(start: int, around: str = "") -> tuple[int, str]:
        code = split_lines(text[start: start + 4096])[0].strip() if start < len(text) else ""
        at = code.find(around) if around else 0
        return count_lines(text[:start]) + 1, code[max(0, at - 20): max(0, at - 20) + 60]

    for kind, pattern, words in (("import", _IMPORT_MARKER, ("tf_keras", "python.keras", "python import keras")),
                                 ("env", _ENV_MARKER, ("TF_USE_LEGACY_KERAS",))):
        if any(w in text for w in words):
            for _, match in zip(range(MAX_MARKERS), pattern.finditer(text)):
                line, code = where(match.start(), "TF_USE_LEGACY_KERAS" if kind == "env" else "")
                found.append((kind, line, code.strip()))
    if "install" in text:
        for match in _PIP.finditer(text):
            for item in _PIP_ITEM.finditer(match.group(1)):
                name = _normal(item.group(1))
                if name in THRESHOLDS and verdict(name, item.group(2).rstrip(",")) == ("2", True):
                    found.append(("pip", *where(match.start())))
                    break
    return tuple(sorted(found, key=lambda m: m[1]))


class Inference:
    """Facts per file for one run: the override chain (CLI, the file's own markers, per-path
    and project configuration) over the dependency files, each folder read once."""

    def __init__(self, settings, infer: bool = True, base: ProjectFacts = DEFAULT) -> None:
        self.settings = settings
        self.infer = infer
        self.base = base  # what decides when nothing else does (the default: Keras 3)
        self._folders: dict[Path, FolderVerdict] = {}
        self._above: dict[Path, tuple[str | None, str, tuple[str, ...]]] = {}
        self._specs = None

    def reads(self) -> int:
        """Dependency files read so far (each folder's once)."""
        return sum(v.read for v in self._folders.values())

    def folder(self, folder: Path) -> FolderVerdict:
        got = self._folders.get(folder)
        if got is None:
            got = self._folders[folder] = judge(folder)
        return got

    def project(self, path: Path | None) -> tuple[str | None, str, tuple[str, ...]]:
        """(keras, source, notes) from the dependency files above `path` (keras None: none pins)."""
        if not self.infer or path is None:
            return None, "", ()
        key = path.parent if path.suffix in (".py", ".pyi", ".ipynb") else path  # a file's folder, resolved once
        cached = self._above.get(key)
        if cached is not None:
            return cached
        try:
            start = path.resolve()
        except OSError:
            return None, "", ()
        folder = start if start.is_dir() else start.parent
        found = self._above[key] = self._project(folder)
        return found

    def _project(self, folder: Path) -> tuple[str | None, str, tuple[str, ...]]:
        notes: list[str] = []
        home = _home()
        for current in (folder, *folder.parents):
            if current == home and current != folder:
                break  # a dependency file in the home folder belongs to no project
            got = self.folder(current)
            prefix = _shown(current)
            notes.extend(f"{prefix}{n}" for n in got.notes)
            if got.keras is not None:
                return got.keras, f"{prefix}{got.source}", tuple(notes)
            if (current / ".git").exists():
                break
        return None, "", tuple(notes)

    def _per_path(self, path: Path | None) -> tuple[str, str] | None:
        settings = self.settings
        entries = getattr(settings, "per_file_target_keras", ())
        if not entries or path is None:
            return None
        if self._specs is None:
            from kerascheck.discover import gitignore_spec

            self._specs = [(gitignore_spec([pattern]), pattern, value) for pattern, value in entries]
        try:
            rel = path.resolve().relative_to(settings.root.resolve()).as_posix()
        except (ValueError, OSError):
            rel = path.as_posix()
        for spec, pattern, value in reversed(self._specs):  # the last matching entry wins
            if spec.match_file(rel) or spec.match_file(path.name):
                return value, f"per-file-target-keras \"{pattern}\" in {settings.config_shown or 'the config'}"
        return None

    def facts_for(self, path: Path | None, text: str | None = None, display: str | None = None) -> ProjectFacts:
        settings = self.settings
        if self.base.keras_forced:
            return self.base
        notes: tuple[str, ...] = ()
        chosen: tuple[str, str] | None = self._per_path(path)
        if chosen is None and getattr(settings, "target_keras", None):
            chosen = (settings.target_keras, settings.target_keras_source or "target-keras in the config")
        if chosen is None and (settings.rule_options.get("KC004") or {}).get("legacy-keras"):
            chosen = ("2", "legacy-keras of [tool.kerascheck.kc004] (deprecated: use target-keras)")
        if chosen is None:
            keras, source, notes = self.project(path)
            if keras is not None:
                chosen = (keras, source)
            elif self.base is not DEFAULT:
                chosen = (self.base.keras, self.base.keras_source)
            else:
                chosen = ("3", "default: no Keras pin found")
        project_keras, project_source = chosen
        keras, source = project_keras, project_source
        found = markers(text) if text else ()
        shown = display or (path.name if path is not None else "<stdin>")
        env = any(kind == "env" for kind, _, _ in found)
        if found:
            kind, line, code = found[0]
            keras, source = "2", f"{shown}:{line}: {code}"
            if any(kind == "pip" for kind, _, _ in found):
                project_keras = "2"  # the file installs its own TensorFlow: `import keras` is Keras 2 too
        facts = ProjectFacts(keras, source, False, keras_project=project_keras, keras_legacy_env=env,
                             keras_markers=tuple(f"{shown}:{line}: {code}" for _, line, code in found),
                             keras_notes=notes)
        forced = getattr(settings, "force_target_keras", None)
        if forced:
            facts = ProjectFacts(forced, "--target-keras", True, keras_project=forced,
                                 keras_markers=facts.keras_markers, keras_notes=notes, keras_unforced=facts)
        return facts


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, OSError):
        return None


def _shown(folder: Path) -> str:
    """A folder as a prefix for messages: relative to the current directory when under it."""
    try:
        rel = folder.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return folder.as_posix() + "/"
    return "" if rel == "." else rel + "/"


__all__ = ["DEFAULT", "FolderVerdict", "Inference", "Pin", "bounds", "judge", "markers", "verdict"]
