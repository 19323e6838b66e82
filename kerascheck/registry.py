"""The rule registry: every `kcNNN_*` module of `kerascheck.rules`, found by discovery and
checked once; --select/--ignore."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import replace
from functools import lru_cache
from typing import Any, Mapping

from kerascheck.rule import SEVERITIES, Rule

CODE_RE = re.compile(r"^KC\d{3}$")
MODULE_RE = re.compile(r"^kc(\d{3})_[a-z0-9_]+$")
# Retired codes are never reused: code -> what replaced it.
REMOVED: dict[str, str] = {}


class RegistryError(Exception):
    """A broken rule package or an unknown rule code: exit 2."""


# Not a rule module: the engine reports files it cannot read or parse with it.
KC000 = Rule(
    "KC000", "unreadable-file", "{reason}", "error", doc="""A file kerascheck could not read or parse.

## What it does
Reports a file that could not be read, decoded or parsed: a syntax error,
bytes that are not valid in the file's encoding (or a coding cookie naming a
codec that cannot decode it, or one that is not a text encoding), NUL bytes, a
symlink loop, a file that vanished or is unreadable, a directory that cannot be
listed, a file over the size limit, nested too deeply, or holding a shape that
crashes or stalls libcst's parser (`too complex to parse safely`: a chain of
hundreds of `+`s, calls or attributes, thousands of `and`s, a literal of tens of
thousands of elements); a file whose parse and analysis crashed (`parser crashed (signal
11, SIGSEGV)`), ran past `file-timeout` or past `file-memory`; or an internal
error of a rule on that file (the rule is named). Each is that file's only
finding: the run goes on. It is always reported: `--select` and `--ignore` do
not turn it off (like ruff's syntax errors).

## Why is this bad?
A file kerascheck cannot parse is a file none of its rules checked.

## Example
    model.add(layers.Dense(10)  # unclosed parenthesis

## Use instead
Fix the file, raise `max-lines`, `file-timeout` or `file-memory`, or exclude it
with `exclude`.
""")

# Not a rule module either: `check --report-unused-noqa` reports with it (like ruff's RUF100).
KC100 = Rule(
    "KC100", "unused-noqa", "`# noqa: {codes}` suppresses nothing on this line and would hide a later finding",
    "warning", needs=(b"noqa",), doc="""A `# noqa: KCnnn` comment that suppressed nothing.

## What it does
With `kerascheck check --report-unused-noqa`, reports each kerascheck code in a
line's `# noqa: ...` comment that silenced no finding on that line: the code
is unknown, or its rule ran on the file and found nothing there. Codes of
other tools (`# noqa: E501`), a bare `# noqa`, and codes of rules that are
not enabled for the file (`--select`, `--ignore`, `per-file-ignores`) are
left alone. Like every code it obeys `--select`/`--ignore`; a `# noqa: KC100`
on the line keeps that line's comment as it is.

## Why is this bad?
A stale suppression hides the next real finding on that line, and it tells
readers a problem is there when none is.

## Example
    x = layers.Dense(10)(x)  # noqa: KC001

## Use instead
    x = layers.Dense(10)(x)
""")


def _from_module(module) -> Rule:
    name = module.__name__.rsplit(".", 1)[-1]
    rule = getattr(module, "RULE", None)
    if not isinstance(rule, Rule):
        raise RegistryError(f"rule module {name} has no RULE = Rule(...)")
    check = getattr(module, "check", None)
    if not callable(check):
        raise RegistryError(f"rule module {name} has no check(ctx) function")
    if not CODE_RE.match(rule.code):
        raise RegistryError(f"rule module {name}: bad code {rule.code!r}")
    if MODULE_RE.match(name).group(1) != rule.code[2:]:
        raise RegistryError(f"rule module {name} declares {rule.code}: the module name must carry its code")
    if rule.severity not in SEVERITIES:
        raise RegistryError(f"rule {rule.code}: bad severity {rule.severity!r}")
    if not rule.groups:
        raise RegistryError(f"rule {rule.code}: `needs` is empty, so no file could ever be skipped")
    if not module.__doc__:
        raise RegistryError(f"rule {rule.code}: the module docstring (its documentation) is missing")
    return replace(rule, doc=module.__doc__, check=check, module=module,
                   valid=tuple(getattr(module, "VALID", ())), invalid=tuple(getattr(module, "INVALID", ())))


@lru_cache(maxsize=1)
def load() -> tuple[Rule, ...]:
    """Every rule module, by code."""
    try:
        package = importlib.import_module("kerascheck.rules")
    except ImportError as exc:
        raise RegistryError(f"cannot import kerascheck's rules package: {exc}") from None
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.ispkg or not MODULE_RE.match(info.name):
            continue
        found.append(_from_module(importlib.import_module(f"kerascheck.rules.{info.name}")))
    codes = [r.code for r in found]
    dupes = {c for c in codes if codes.count(c) > 1}
    if dupes:
        raise RegistryError(f"duplicate rule codes: {', '.join(sorted(dupes))}")
    reused = set(codes) & set(REMOVED)
    if reused:
        raise RegistryError(f"retired rule codes reused: {', '.join(sorted(reused))}")
    return tuple(sorted(found, key=lambda r: r.code))


def all_rules() -> tuple[Rule, ...]:
    """KC000, KC100 and every rule module, by code."""
    return tuple(sorted((KC000, KC100, *load()), key=lambda r: r.code))


def by_code(code: str) -> Rule:
    for rule in all_rules():
        if rule.code == code.upper():
            return rule
    if code.upper() in REMOVED:
        raise RegistryError(f"rule {code} was removed: {REMOVED[code.upper()]}")
    raise RegistryError(f"unknown rule code: {code}")


def expand(selectors, known: tuple[str, ...]) -> set[str]:
    """Codes matching selectors ("KC001", prefixes like "KC0", or "ALL")."""
    chosen: set[str] = set()
    for raw in selectors:
        sel = raw.strip().upper()
        if not sel:
            continue
        if sel == "ALL":
            chosen.update(known)
            continue
        matched = {c for c in known if c.startswith(sel)}
        if not matched or not re.fullmatch(r"KC\d{0,3}", sel):
            if sel in REMOVED:
                raise RegistryError(f"rule {sel} was removed: {REMOVED[sel]}")
            raise RegistryError(f"unknown rule code: {raw.strip()}")
        chosen.update(matched)
    return chosen


def validate(selectors) -> None:
    expand(selectors, tuple(r.code for r in all_rules()))


def enabled(select, ignore, extend_select=()) -> set[str]:
    """The enabled codes. With no selection, the rules that are on by default; an explicit
    selection names opt-in rules too, except through a bare prefix or ALL, which turn on only
    the default rules they cover (like ruff's preview rules). `extend_select` adds to the
    selection, in the same way; `ignore` wins over both. KC000 is always on, whatever the
    selection (like ruff's syntax errors): a file that could not be checked is always said."""
    rules = all_rules()
    known = tuple(r.code for r in rules)
    default = {r.code for r in rules if r.default}
    chosen = set(default) if select is None else set()
    for sel in (*(select or ()), *extend_select):
        codes = expand([sel], known)
        exact = sel.strip().upper() in known
        chosen |= codes if exact else codes & default
    return (chosen - expand(ignore, known)) | {KC000.code}


def option_defaults() -> dict[str, Mapping[str, Any]]:
    return {r.code: r.options for r in load() if r.options}
