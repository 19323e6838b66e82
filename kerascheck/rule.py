"""The whole API a rule module sees.

A rule module defines CODE, NAME, MESSAGE, NEEDS, VALID, INVALID and
`check(pic) -> Iterator[Hit]`; optionally SEVERITY, KEEP, `fix` and `confirm`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # lint start-up stays lean: libcst is imported only to parse
    import libcst as cst

    from kerascheck.picture import Apply, LayerDef, Picture, Value  # noqa: F401

__all__ = ["Hit", "Picture"]


@dataclass(frozen=True)
class Hit:
    """One place a rule matched.

    `node` is what is reported (its start and end give line:col); `fmt`
    fills the rule's MESSAGE; `related` nodes have their line numbers
    available to the message as `{<key>_line}`; `data` is for fix/confirm.
    `message` replaces MESSAGE entirely when a rule needs another wording.
    """

    node: cst.CSTNode
    fmt: Mapping[str, Any] = field(default_factory=dict)
    related: Mapping[str, cst.CSTNode] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None


def __getattr__(name: str):  # `from kerascheck.rule import Picture` without importing libcst early
    if name == "Picture":
        from kerascheck.picture import Picture

        return Picture
    if name in ("Verdict", "CouldNotBuild"):  # confirm mode (kerascheck/confirm/__init__.py)
        import kerascheck.confirm

        return getattr(kerascheck.confirm, name)
    if name == "Probe":
        from kerascheck.confirm.probe import Probe

        return Probe
    raise AttributeError(name)
