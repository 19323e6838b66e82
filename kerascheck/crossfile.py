"""Definitions of other project modules, loaded into a file's picture when its code reaches them.

The picture meets a project function a file calls, a project class it derives from, or a
project constraint class it instantiates. The index (`project.py`) says what the name is; when
the interpreter needs the definition itself (to run a helper with the caller's values, as it runs
a same-file helper, or to hand a rule a class's methods), it is loaded here: the module's text
with every line blanked but its imports, its aliases and that one definition (line numbers stay
those of the file), parsed with libcst, with the module's own names (`Names` with the file's
package and the index for what the text no longer binds) and flow.

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
    _positions: dict | None = field(default=None, repr=False)
    _lines: list[str] | None = field(default=None, repr=False)

    def lines(self) -> list[str]:
        """The other file's lines (blank but for what was loaded), for code frames."""
        if self._lines is None:
            self._lines = split_lines(self.module.code)
        return self._lines

    def position(self, node: cst.CSTNode):
        """The node's CodeRange in the other file (lines and columns are the file's own)."""
        if self._positions is None:
            from libcst.metadata import MetadataWrapper, PositionProvider

            self._positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        return self._positions.get(node)


def _kept_text(text: str, keep: list[tuple[int, int]]) -> str:
    lines = split_lines(text, keepends=True)
    wanted = [False] * (len(lines) + 2)
    for start, end in keep:
        for i in range(max(start, 1), min(end, len(lines)) + 1):
            wanted[i] = True
    out = []
    for number, line in enumerate(lines, 1):
        if wanted[number]:
            out.append(line)
        else:
            out.append(line[len(line.rstrip("\r\n")):])
    return "".join(out)


def load(view, sym, anchor: cst.CSTNode) -> Entry | None:
    """Parse the definition `sym` (a project.Symbol of kind def or class) for `anchor`; None
    when its module cannot be read or parsed again."""
    index = view.index
    text = index.text(sym.path)
    summary = index.summary(sym.path)
    info = sym.info
    if text is None or summary is None or info is None:
        return None
    keep = [tuple(span) for span in summary["header"]] + [(info["line"], info["end"])]
    try:
        module = cst.parse_module(_kept_text(text, keep))
    except Exception:  # noqa: BLE001 - the file changed since it was summarised, or libcst refuses it
        return None
    node = None
    for stmt in module.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) and stmt.name.value == sym.name:
            node = stmt
    if node is None:
        return None
    other = index.view(sym.path)
    defined = set(summary["defs"]) | set(summary["classes"]) | set(summary["consts"])

    def globals_(name: str, module_name: str = other.module) -> str | None:
        return f"{module_name}.{name}" if name in defined else None

    names = Names(module, walrus=":=" in text, project=other, globals=globals_)
    return Entry(sym.path, module, names, Flow(module, names), node, anchor, sym.raw)





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
