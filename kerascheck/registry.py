"""The rule registry: `rules.ALL`, checked once, and --select/--ignore."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any, Callable, Mapping

CODE_RE = re.compile(r"^KC\d{3}$")
# Retired codes are never reused: code -> what replaced it.
REMOVED: dict[str, str] = {}
SEVERITIES = ("error", "warning", "info")


class RegistryError(Exception):
    """A broken rule package or an unknown rule code: exit 2."""


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    message: str
    severity: str
    needs: tuple[tuple[bytes, ...], ...]  # any group whose words are all present
    keep: tuple[str, ...]  # words that make a function worth parsing
    check: Callable | None
    doc: str
    module: ModuleType | None = None
    options: Mapping[str, Any] | None = None  # the rule's typed options and their defaults

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.name

    def wanted(self, data: bytes, seen: dict[bytes, bool] | None = None) -> bool:
        """Could this rule match `data`? `seen` shares word look-ups between rules."""
        seen = {} if seen is None else seen
        for group in self.needs:
            for word in group:
                present = seen.get(word)
                if present is None:
                    present = seen[word] = word in data
                if not present:
                    break
            else:
                return True
        return False


# Not a rule module: the engine reports files it cannot read or parse with it.
KC000 = Rule(
    "KC000", "unreadable-file", "{reason}", "error", ((b"",),), (), None,
    """A file kerascheck could not read or parse.

## What it does
Reports a file that could not be read, decoded or parsed: a syntax error,
bytes that are not valid in the file's encoding, NUL bytes, a symlink loop, a
file that vanished or is unreadable, a file over the size limit or nested too
deeply, or an internal error of a rule on that file (the rule is named).

## Why is this bad
A file kerascheck cannot parse is a file none of its rules checked.

## Example
    model.add(layers.Dense(10)  # unclosed parenthesis

## Use instead
Fix the file, raise `max-lines`, or exclude it with `exclude`.
""",
)

# Not a rule module either: `check --report-unused-noqa` reports with it (like ruff's RUF100).
KC100 = Rule(
    "KC100", "unused-noqa", "`# noqa: {codes}` suppresses nothing on this line and would hide a later finding", "warning", ((b"noqa",),), (), None,
    """A `# noqa: KCnnn` comment that suppressed nothing.

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
""",
)


def _groups(needs) -> tuple[tuple[bytes, ...], ...]:
    groups = []
    for item in needs:
        groups.append((item,) if isinstance(item, bytes) else tuple(item))
    return tuple(groups)


def _from_module(module: ModuleType) -> Rule:
    try:
        code, name, message = module.CODE, module.NAME, module.MESSAGE
        check = module.check
    except AttributeError as exc:
        raise RegistryError(f"rule module {module.__name__} lacks {exc.name}") from None
    if not CODE_RE.match(code):
        raise RegistryError(f"rule module {module.__name__}: bad code {code!r}")
    severity = getattr(module, "SEVERITY", "warning")
    if severity not in SEVERITIES:
        raise RegistryError(f"rule {code}: bad severity {severity!r}")
    needs = _groups(getattr(module, "NEEDS", ()))
    if not needs:
        raise RegistryError(f"rule {code}: NEEDS is empty, so no file could ever be skipped")
    keep = tuple(getattr(module, "KEEP", ()) or {w.decode() for g in needs for w in g})
    options = getattr(module, "OPTIONS", None)
    return Rule(code, name, message, severity, needs, keep, check, module.__doc__ or "", module, options)


@lru_cache(maxsize=1)
def load() -> tuple[Rule, ...]:
    try:
        import rules as package
    except ImportError as exc:
        raise RegistryError(f"cannot import kerascheck's rules package: {exc}") from None
    if not getattr(package, "KERASCHECK_RULES", False):
        where = getattr(package, "__file__", "?")
        raise RegistryError(
            f"the top-level package 'rules' at {where} is not kerascheck's "
            "(another distribution, such as django-rules, installs one); reinstall kerascheck in its own environment")
    found = [_from_module(m) for m in package.ALL]
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


def enabled(select, ignore) -> set[str]:
    known = tuple(r.code for r in all_rules())
    chosen = expand(select, known) if select is not None else set(known)
    return chosen - expand(ignore, known)


def option_defaults() -> dict[str, Mapping[str, Any]]:
    return {r.code: r.options for r in load() if r.options is not None}
