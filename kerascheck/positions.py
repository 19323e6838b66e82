"""Positions of reported nodes, computed only where they are.

libcst's PositionProvider generates the code of the whole module (measured:
~0.2 s for a large test file). A finding needs the positions of a few nodes,
so this finds the top-level statements that hold them (a walk over the
dataclass fields, no code generation), generates only those statements, and
shifts the result by each statement's first line, known from the `ast` parse.
Anything unexpected falls back to the whole-module provider.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import CodeRange, CodePosition, MetadataWrapper, PositionProvider

from kerascheck.names import children as _children

def _whole(module: cst.Module):
    return MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)


def _walk(node: cst.CSTNode, skip: cst.CSTNode | None = None):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(child for child in _children(current) if child is not skip)


def _shifted(where: CodeRange, lines: int) -> CodeRange:
    return CodeRange(CodePosition(where.start.line + lines, where.start.column),
                     CodePosition(where.end.line + lines, where.end.column))


def positions(module: cst.Module, layout, nodes) -> dict:
    """node -> CodeRange for every node in `nodes` (and possibly more), in the file's own columns
    (parse.column_shifts: lines whose leading form feeds libcst did not see).

    `layout` is parse.parse_lines's list of `Top`, one per top-level statement.
    """
    from kerascheck.parse import column_shifts

    found = _positions(module, layout, nodes)
    shifts = column_shifts(module)
    return with_shifts(found, shifts) if shifts else found


def with_shifts(ranges, shifts: dict[int, int]) -> dict:
    """CodeRanges with `shifts[line]` added to the columns on those lines."""
    def move(where: CodePosition) -> CodePosition:
        return CodePosition(where.line, where.column + shifts.get(where.line, 0))

    return {node: CodeRange(move(where.start), move(where.end)) for node, where in ranges.items()}


def _positions(module: cst.Module, layout, nodes) -> dict:
    wanted = {id(n) for n in nodes}
    if not layout or len(layout) != len(module.body):
        return _whole(module)
    owner: dict[int, tuple[int, int | None]] = {}  # node -> (top-level statement, method or None)
    for index, stmt in enumerate(module.body):
        members = layout[index].members
        body = getattr(stmt, "body", None)
        if (isinstance(stmt, cst.ClassDef) and isinstance(body, cst.IndentedBlock) and members is not None
                and len(members) == len(body.body)):
            for node in _walk(stmt, skip=body):
                if id(node) in wanted:
                    owner[id(node)] = (index, None)
            for j, member in enumerate(body.body):
                for node in _walk(member):
                    if id(node) in wanted:
                        owner[id(node)] = (index, j if members[j] is not None else None)
        else:
            for node in _walk(stmt):
                if id(node) in wanted:
                    owner[id(node)] = (index, None)
        if len(owner) == len(wanted):
            break
    if len(owner) != len(wanted):
        return _whole(module)
    found: dict = {}
    for index, j in sorted(set(owner.values()), key=lambda k: (k[0], -1 if k[1] is None else k[1])):
        stmt = module.body[index]
        if j is None:
            # The whole top-level statement, generated alone, then moved to its first line.
            alone = stmt.with_changes(leading_lines=())
            ranges = MetadataWrapper(module.with_changes(header=(), body=(alone,), footer=()),
                                     unsafe_skip_copy=True).resolve(PositionProvider)
            shift = layout[index].start - 1
            originals = {id(alone): stmt}
        else:
            # One method inside its class's header: its own lines only, moved to its `def` line.
            member = stmt.body.body[j]
            lone = member.with_changes(leading_lines=())
            alone = stmt.with_changes(leading_lines=(), body=stmt.body.with_changes(body=(lone,)))
            ranges = MetadataWrapper(module.with_changes(header=(), body=(alone,), footer=()),
                                     unsafe_skip_copy=True).resolve(PositionProvider)
            shift = layout[index].members[j] - ranges[member.name].start.line
            originals = {id(alone): stmt, id(lone): member}
        for key, where in ranges.items():
            node = originals.get(id(key), key)
            if id(node) in wanted and owner.get(id(node)) == (index, j):
                found[node] = _shifted(where, shift)
    if len(found) != len(wanted):
        return _whole(module)
    return found
