"""Settings: CLI flags over `[tool.kerascheck]` over defaults, resolved once.

The configuration is found like ruff finds its own: walking up from the
first path for `.kerascheck.toml`, `kerascheck.toml`, or a `pyproject.toml`
that has a `[tool.kerascheck]` table; `--config FILE` names one directly.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(Exception):
    """A broken configuration: exit 2 with a one-line message."""


@dataclass(frozen=True)
class Settings:
    root: Path = field(default_factory=Path.cwd)  # patterns are relative to it
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()  # --extend-select: on top of `select`
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    respect_gitignore: bool = True
    force_exclude: bool = False
    max_lines: int = 15_000
    max_bytes: int = 4 * 1024 * 1024
    jobs: int | None = None
    file_timeout: float = 20.0  # CPU seconds one file's parse and analysis may take
    file_memory: int = 4096  # MB one file's worker may allocate beyond what it inherited
    full_parse: bool = False  # debug: give libcst the whole file
    project: bool = True  # follow imports into the project's other modules (debug and bench: --no-project)
    report_unused_noqa: bool = False  # KC100; off by default, so files without findings stay unparsed
    src: tuple[str, ...] = ()  # folders (relative to `root`) that absolute imports start from, like ruff's
    # Which Keras the code runs on (kerascheck/target.py): `target-keras` ("2" | "3", None: infer
    # from the project's pins), where it was set, per-path values (glob, "2" | "3"), and
    # `--target-keras` (forced: wins over everything, the file's own markers included).
    target_keras: str | None = None
    target_keras_source: str = ""
    per_file_target_keras: tuple[tuple[str, str], ...] = ()
    force_target_keras: str | None = None
    config_shown: str = ""  # the config file as the user would type it ("" when there is none)
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))

    def options_for(self, code: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
        merged = dict(defaults)
        merged.update(self.rule_options.get(code, {}))
        return merged


CONFIG_NAMES = (".kerascheck.toml", "kerascheck.toml", "pyproject.toml")


def find_config(start: Path) -> Path | None:
    start = start.resolve()
    try:
        is_dir = start.is_dir()
    except OSError:  # a file in a folder we may not search: it is reported when it is read
        is_dir = False
    if not is_dir:
        start = start.parent
    for directory in (start, *start.parents):
        for name in CONFIG_NAMES:
            candidate = directory / name
            try:
                if not candidate.is_file():
                    continue
            except OSError:  # a folder we may not search holds no config we could read
                continue
            if name != "pyproject.toml":
                return candidate
            try:
                data = candidate.read_bytes()
            except OSError:
                return candidate  # we cannot tell whether it is ours: load_table reports why
            try:
                data = tomllib.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
                if b"[tool.kerascheck" in data:
                    return candidate  # ours and broken: load_table reports it
                continue  # someone else's broken pyproject is not ours to judge
            if isinstance(data.get("tool"), dict) and "kerascheck" in data["tool"]:
                return candidate
    return None


def _kind(value: Any) -> str:
    """What a TOML value is, for an error message."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        import json

        return f"the string {json.dumps(value)}"
    if isinstance(value, list):
        odd = next((v for v in value if not isinstance(v, str)), None)
        return f"a list holding {_kind(odd)}" if odd is not None else "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"  # dates and times


def _toml_key(key: str) -> str:
    """`key` as TOML would spell it inside a dotted key: bare when it can be."""
    import json

    return key if key and all(c.isalnum() or c in "-_" for c in key) else json.dumps(key)


class _Table:
    """Reads one config table; each error names the file and the key."""

    def __init__(self, path: Path | None) -> None:
        self.where = f" in {_shown(path)}" if path else ""

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"'{key}'{self.where} {message}")

    def strings(self, key: str, value: Any, check_codes: Callable[[tuple[str, ...]], None] | None = None) -> tuple[str, ...]:
        # A bare string is refused, as ruff does: `select = "KC001, KC002"` is one string, not two codes.
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, f'must be a list of strings, e.g. ["KC001"], not {_kind(value)}')
        codes = tuple(value)
        if check_codes is not None:
            try:
                check_codes(codes)
            except Exception as exc:  # the registry's one-line message, e.g. an unknown code
                raise self.error(key, f"is invalid: {exc}") from None
        return codes

    def patterns(self, key: str, value: Any) -> tuple[str, ...]:
        patterns = self.strings(key, value)
        for pattern in patterns:
            if not valid_pattern(pattern):
                raise self.error(key, f"holds {pattern!r}, which is not a valid gitignore-style pattern")
        return patterns

    def boolean(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {_kind(value)}")
        return value

    def seconds(self, key: str, value: Any) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.error(key, f"must be a positive number of seconds, not {_kind(value)}")
        if not value > 0 or value == float("inf"):
            raise self.error(key, f"must be a positive number of seconds, not {value}")
        return float(value)

    def keras(self, key: str, value: Any) -> str:
        if value not in ("2", "3") or not isinstance(value, str):
            raise self.error(key, f'must be "2" or "3" (a string: the Keras major version), not {_kind(value)}')
        return value

    def positive(self, key: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(key, f"must be a positive integer, not {_kind(value)}")
        if value < 1:
            raise self.error(key, f"must be a positive integer, not {value}")
        return value


def valid_pattern(pattern: str) -> bool:
    """Is this a gitignore-style pattern pathspec can compile (`!` and a lone `\\` are not)?"""
    from kerascheck.discover import gitignore_spec  # here: discover imports this module

    try:
        gitignore_spec([pattern])
    except ValueError:
        return False
    return True


def _shown(path: Path) -> str:
    """The config file as the user would type it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return path.as_posix()


def load_table(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config {path} is not valid UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}") from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"invalid TOML in {path}: nested too deeply") from None
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("kerascheck", {}) if isinstance(tool, dict) else {}
    else:
        table = data
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.kerascheck] in {_shown(path)} must be a table, not {_kind(table)}")
    return table


def from_table(table: dict[str, Any], path: Path | None, rule_defaults: Mapping[str, Mapping[str, Any]],
               check_codes: Callable[[tuple[str, ...]], None] | None = None) -> Settings:
    """Validate a config table; every unknown key or wrong type is an error naming the file and the key.

    `check_codes` validates rule codes (the registry's), so an unknown code names its key too."""
    read = _Table(path)
    changes: dict[str, Any] = {"root": path.parent.resolve() if path else Path.cwd()}
    options: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        attr = key.replace("-", "_")
        if key in ("select", "ignore"):
            changes[attr] = read.strings(key, value, check_codes)
            if key == "select" and not changes[attr]:
                raise read.error(key, 'is empty: name at least one rule code, e.g. ["KC001"], or leave it out')
        elif key in ("exclude", "extend-exclude"):
            changes[attr] = read.patterns(key, value)
        elif key == "src":
            changes[attr] = read.strings(key, value)
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise read.error(key, f'must be a table of glob = [codes], e.g. {{ "tests/*" = ["KC001"] }}, '
                                      f"not {_kind(value)}")
            for pattern in value:
                if not pattern.strip() or not valid_pattern(pattern):
                    raise read.error(f"{key}.{_toml_key(pattern)}", "is not a valid gitignore-style pattern")
            changes[attr] = tuple((pattern, read.strings(f"{key}.{_toml_key(pattern)}", codes, check_codes))
                                  for pattern, codes in value.items())
        elif key == "respect-gitignore":
            changes[attr] = read.boolean(key, value)
        elif key in ("max-lines", "max-bytes", "jobs", "file-memory"):
            changes[attr] = read.positive(key, value)
        elif key == "file-timeout":
            changes[attr] = read.seconds(key, value)
        elif key == "target-keras":
            changes[attr] = read.keras(key, value)
            changes["target_keras_source"] = _where_set(path, key)
        elif key == "per-file-target-keras":
            if not isinstance(value, dict):
                raise read.error(key, f'must be a table of glob = "2" | "3", e.g. {{ "legacy/*" = "2" }}, '
                                      f"not {_kind(value)}")
            changes[attr] = tuple((pattern, read.keras(f"{key}.{_toml_key(pattern)}", v))
                                  for pattern, v in value.items())
        elif key.upper() in rule_defaults:
            code = key.upper()
            if not isinstance(value, dict):
                raise read.error(key, f"must be a table of {code}'s options, not {_kind(value)}")
            allowed = rule_defaults[code]
            for opt, opt_value in value.items():
                name = f"{key}.{_toml_key(opt)}"
                if opt not in allowed:
                    raise ConfigError(f"unknown option '{name}'{read.where}; known: {', '.join(sorted(allowed)) or 'none'}")
                wanted = type(allowed[opt])
                if type(opt_value) is not wanted:
                    raise read.error(name, f"must be {_TYPE_NAMES.get(wanted, 'a ' + wanted.__name__)}, "
                                           f"not {_kind(opt_value)}")
            options[code] = dict(value)
        else:
            raise ConfigError(f"unknown configuration key '{key}'{read.where}")
    if options.get("KC004", {}).get("legacy-keras"):
        import logging

        logging.getLogger(__name__).warning(
            "kerascheck: '[tool.kerascheck.kc004] legacy-keras'%s is deprecated: use target-keras = \"2\"",
            read.where)
        if "target_keras" not in changes:
            changes["target_keras"] = "2"
            changes["target_keras_source"] = f"{_where_set(path, 'legacy-keras')} (deprecated)"
    if options:
        changes["rule_options"] = MappingProxyType(options)
    if path is not None:
        changes["config_shown"] = _shown(path)
    return Settings(**changes)


def _where_set(path: Path | None, key: str) -> str:
    """`pyproject.toml:12` (the line that sets `key`), for --show-settings."""
    if path is None:
        return key
    import re

    shown = _shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return f"{key} in {shown}"
    match = re.search(rf"^[ \t]*{re.escape(key)}[ \t]*=", text, re.M)
    line = text.count("\n", 0, match.start()) + 1 if match else 0
    return f"{key} in {shown}:{line}" if line else f"{key} in {shown}"


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a float", str: "a string", list: "a list",
               dict: "a table"}


def resolve(
    paths: tuple[str, ...],
    config: str | None,
    overrides: dict[str, Any],
    rule_defaults: Mapping[str, Mapping[str, Any]],
    check_codes: Callable[[tuple[str, ...]], None] | None = None,
) -> Settings:
    """CLI flags (`overrides`, None = not given) over the config file over the defaults.

    `check_codes` validates the rule codes the file names (the registry's `validate`)."""
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"config file not found: {config}")
    else:
        path = find_config(Path(paths[0]) if paths else Path.cwd())
    table = load_table(path) if path is not None else {}
    settings = from_table(table, path, rule_defaults, check_codes)
    for attr, flag in (("exclude", "--exclude"), ("extend_exclude", "--extend-exclude")):
        for pattern in overrides.get(attr) or ():
            if not valid_pattern(pattern):
                raise ConfigError(f"{flag} {pattern!r}: not a valid gitignore-style pattern")
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
