"""Definitions of other project modules, loaded into a file's picture when its code reaches them.

The picture meets a project function a file calls, a project class it derives from, or a
project constraint class it instantiates. The index (`project.py`) says what the name is; when
the interpreter needs the definition itself (to run a helper with the caller's values, as it runs
a same-file helper, or to hand a rule a class's methods), it is loaded here: that definition's
lines alone, parsed with libcst, with the module's own names (`Names` reads the module's import
table and top-level names from its summary) and flow; positions are shifted to the file's lines.

Each `Entry` is loaded for one place of the checked file, its `anchor` (the call, base class or
name that reached it): nodes are never shared between two places, so a finding on a node of a
loaded definition is reported at the anchor of its entry (see `engine._findings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst

from kerascheck.flow import Flow
from kerascheck.lines import split_lines
from kerascheck.names import Names, walk

MAX_ENTRIES = 64  # definitions loaded per checked file; beyond, the index's summaries answer


@dataclass(eq=False)
class Entry:
    """One definition of another module, loaded for one place of the checked file."""

    path: Path
    module: cst.Module  # the other module, blanked but for its imports and the definition
    names: Names
    flow: Flow
    node: cst.FunctionDef | cst.ClassDef  # the definition
    anchor: cst.CSTNode  # the node of the checked file that reached it
    qualname: str
    offset: int  # lines above the definition in its file
    text: str  # the file's text
    _positions: dict | None = field(default=None, repr=False)
    _lines: list[str] | None = field(default=None, repr=False)

    def lines(self) -> list[str]:
        """The other file's lines, for code frames."""
        if self._lines is None:
            self._lines = split_lines(self.text)
        return self._lines

    def position(self, node: cst.CSTNode):
        """The node's CodeRange in the other file (its own line and column numbers)."""
        if self._positions is None:
            from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider

            shift = self.offset
            self._positions = {
                key: CodeRange(CodePosition(r.start.line + shift, r.start.column),
                               CodePosition(r.end.line + shift, r.end.column))
                for key, r in MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider).items()}
        return self._positions.get(node)


def load(view, sym, anchor: cst.CSTNode) -> Entry | None:
    """Parse the definition `sym` (a project.Symbol of kind def or class) for `anchor`; None
    when its module cannot be read or parsed again.

    Only the definition's own lines are parsed; what its module imports and defines comes from
    the module's summary (its import table), so the names in it resolve as in its file."""
    index = view.index
    text = index.text(sym.path)
    summary = index.summary(sym.path)
    info = sym.info
    if text is None or summary is None or info is None:
        return None
    lines = index.lines(sym.path)
    source = "".join(lines[info["line"] - 1: info["end"]])
    try:
        module = cst.parse_module(source)
    except Exception:  # noqa: BLE001 - the file changed since it was summarised, or libcst refuses it
        return None
    node = module.body[0] if len(module.body) == 1 else None
    if not isinstance(node, (cst.FunctionDef, cst.ClassDef)) or node.name.value != sym.name:
        return None
    other = index.view(sym.path)
    refs = summary["refs"]
    defined = set(summary["defs"]) | set(summary["classes"]) | set(summary["consts"])

    def globals_(name: str, module_name: str = other.module) -> tuple[str, ...] | None:
        if name in refs:
            return tuple(refs[name])
        return (f"{module_name}.{name}",) if name in defined else None

    names = Names(module, walrus=":=" in source, project=other, globals=globals_)
    names.root.stars.extend(summary["stars"])
    return Entry(sym.path, module, names, Flow(module, names), node, anchor, sym.raw, info["line"] - 1, text)


class Loaded:
    """The definitions loaded into one picture, and which entry each of their nodes is in."""

    def __init__(self, constant=None) -> None:
        self.entries: dict[tuple[int, str], Entry | None] = {}
        self.owner: dict[int, Entry] = {}
        self.constant = constant  # what the entries' flows ask for a name no assignment binds

    def get(self, view, sym, anchor: cst.CSTNode) -> Entry | None:
        key = (id(anchor), sym.raw)
        if key in self.entries:
            return self.entries[key]
        entry = None
        if len(self.entries) < MAX_ENTRIES:
            entry = load(view, sym, anchor)
            if entry is not None and self.constant is not None:
                entry.flow.external = self.constant
        self.entries[key] = entry
        if entry is not None:
            for node in walk(entry.module):
                self.owner[id(node)] = entry
        return entry

    def of(self, node: Any) -> Entry | None:
        return self.owner.get(id(node))
