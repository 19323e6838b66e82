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
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(Exception):
    """A broken configuration: exit 2 with a one-line message."""


@dataclass(frozen=True)
class Settings:
    root: Path = field(default_factory=Path.cwd)  # patterns are relative to it
    config_path: Path | None = None
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    respect_gitignore: bool = True
    force_exclude: bool = False
    max_lines: int = 15_000
    max_bytes: int = 4 * 1024 * 1024
    jobs: int | None = None
    full_parse: bool = False  # debug: give libcst the whole file
    report_unused_noqa: bool = False  # KC100; off by default, so files without findings stay unparsed
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))

    def options_for(self, code: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
        merged = dict(defaults)
        merged.update(self.rule_options.get(code, {}))
        return merged


CONFIG_NAMES = (".kerascheck.toml", "kerascheck.toml", "pyproject.toml")


def find_config(start: Path) -> Path | None:
    start = start.resolve()
    if not start.is_dir():
        start = start.parent
    for directory in (start, *start.parents):
        for name in CONFIG_NAMES:
            candidate = directory / name
            if not candidate.is_file():
                continue
            if name != "pyproject.toml":
                return candidate
            try:
                raw = candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            try:
                data = tomllib.loads(raw)
            except tomllib.TOMLDecodeError:
                if "[tool.kerascheck" in raw:
                    return candidate  # ours and broken: load_table reports it
                continue  # someone else's broken pyproject is not ours to judge
            if isinstance(data.get("tool"), dict) and "kerascheck" in data["tool"]:
                return candidate
    return None


def _strings(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"'{key}' must be a list of strings")
    return tuple(value)


def load_table(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config {path} is not valid UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}") from None
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("kerascheck", {}) if isinstance(tool, dict) else {}
    else:
        table = data
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.kerascheck] in {path} must be a table")
    return table


def from_table(table: dict[str, Any], path: Path | None, rule_defaults: Mapping[str, Mapping[str, Any]]) -> Settings:
    """Validate a config table; every unknown key is an error that names it."""
    where = f" in {path}" if path else ""
    settings = Settings(root=path.parent.resolve() if path else Path.cwd(), config_path=path)
    changes: dict[str, Any] = {}
    options: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        attr = key.replace("-", "_")
        if key in ("select", "ignore", "exclude", "extend-exclude"):
            changes[attr] = _strings(key, value)
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"'per-file-ignores'{where} must be a table of glob = [codes]")
            changes[attr] = tuple((pattern, _strings(f"per-file-ignores.{pattern}", codes)) for pattern, codes in value.items())
        elif key == "respect-gitignore":
            if not isinstance(value, bool):
                raise ConfigError(f"'{key}'{where} must be true or false")
            changes[attr] = value
        elif key in ("max-lines", "max-bytes", "jobs"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"'{key}'{where} must be a positive integer")
            changes[attr] = value
        elif key.upper() in rule_defaults:
            code = key.upper()
            if not isinstance(value, dict):
                raise ConfigError(f"[{key}]{where} must be a table of options")
            allowed = rule_defaults[code]
            for opt, opt_value in value.items():
                if opt not in allowed:
                    raise ConfigError(f"unknown option '{key}.{opt}'{where}; known: {', '.join(sorted(allowed)) or 'none'}")
                if type(opt_value) is not type(allowed[opt]):
                    raise ConfigError(f"'{key}.{opt}'{where} must be a {type(allowed[opt]).__name__}")
            options[code] = dict(value)
        else:
            raise ConfigError(f"unknown configuration key '{key}'{where}")
    if options:
        changes["rule_options"] = MappingProxyType(options)
    return replace(settings, **changes)


def resolve(
    paths: tuple[str, ...],
    config: str | None,
    overrides: dict[str, Any],
    rule_defaults: Mapping[str, Mapping[str, Any]],
) -> Settings:
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"config file not found: {config}")
    else:
        path = find_config(Path(paths[0]) if paths else Path.cwd())
    table = load_table(path) if path is not None else {}
    settings = from_table(table, path, rule_defaults)
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
