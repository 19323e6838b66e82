"""Positions of reported nodes, computed only where they are.

libcst's PositionProvider generates the code of the whole module (measured:
~0.2 s for a large test file). A finding needs the positions of a few nodes,
so this finds the top-level statements that hold them (a walk over the
dataclass fields, no code generation), generates only those statements, and
shifts the result by each statement's first line, known from the `ast` parse.
Anything unexpected falls back to the whole-module provider.
"""

from __future__ import annotations

import dataclasses

import libcst as cst
from libcst.metadata import CodeRange, CodePosition, MetadataWrapper, PositionProvider

_FIELDS: dict[type, tuple[str, ...]] = {}


def _children(node: cst.CSTNode):
    names = _FIELDS.get(type(node))
    if names is None:
        names = _FIELDS[type(node)] = tuple(f.name for f in dataclasses.fields(node))
    for name in names:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, cst.CSTNode):
                    yield item


def _whole(module: cst.Module):
    return MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)


def positions(module: cst.Module, starts: list[int] | None, nodes) -> dict:
    """node -> CodeRange for every node in `nodes` (and possibly more)."""
    wanted = {id(n): n for n in nodes}
    if not starts or len(starts) != len(module.body):
        return _whole(module)
    owner: dict[int, int] = {}
    for index, stmt in enumerate(module.body):
        stack = [stmt]
        while stack:
            node = stack.pop()
            if id(node) in wanted:
                owner[id(node)] = index
            stack.extend(_children(node))
        if len(owner) == len(wanted):
            break
    if len(owner) != len(wanted):
        return _whole(module)
    found: dict = {}
    for index in sorted(set(owner.values())):
        stmt = module.body[index]
        alone = stmt.with_changes(leading_lines=())
        mini = module.with_changes(header=(), body=(alone,), footer=())
        shift = starts[index] - 1
        ranges = MetadataWrapper(mini, unsafe_skip_copy=True).resolve(PositionProvider)
        for key, where in ranges.items():
            node = stmt if key is alone else key
            if id(node) in wanted:
                found[node] = CodeRange(CodePosition(where.start.line + shift, where.start.column),
                                        CodePosition(where.end.line + shift, where.end.column))
    if len(found) != len(wanted):
        return _whole(module)
    return found
