"""What happens to an object after it is made: each later use of the name it is bound to, in order.

`object_uses(flow, made)` looks at the expression that makes an object (`layers.Dense(...)`,
`self.add_weight(...)`): when its value is bound by a plain assignment to one name, every load of
that name that the assignment reaches (flow.uses) is one `Use`, classified by what the code does
with it:

- "call": the object is called (`layer(x)`);
- "method": a method of it, or of an attribute chain on it, is called (`layer.build(...)`,
  `layer.kernel.assign(...)`: path ("kernel", "assign"));
- "attribute": an attribute chain is read (`layer.kernel.constraint`: path ("kernel", "constraint"));
- "escape": the object itself goes somewhere else (an argument, a list, a return value, another
  name), where it may be used in any way.

None when the value is not bound to one name (used where it is made, stored in an attribute or a
container): what happens to it is not known.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst


@dataclass(frozen=True)
class Use:
    kind: str  # "call" | "method" | "attribute" | "escape"
    path: tuple[str, ...]  # the attribute chain after the name (the method name last for "method")
    node: cst.Name  # the load of the name


def _bound_name(flow, made: cst.CSTNode) -> cst.Name | None:
    parent = flow.parent(made)
    if isinstance(parent, cst.Assign) and parent.value is made and len(parent.targets) == 1:
        target = parent.targets[0].target
        return target if isinstance(target, cst.Name) else None
    if isinstance(parent, cst.AnnAssign) and parent.value is made and isinstance(parent.target, cst.Name):
        return parent.target
    return None


def classify(flow, load: cst.Name) -> Use:
    path: list[str] = []
    top: cst.CSTNode = load
    parent = flow.parent(top)
    while isinstance(parent, cst.Attribute) and parent.value is top:
        path.append(parent.attr.value)
        top, parent = parent, flow.parent(parent)
    if isinstance(parent, cst.Call) and parent.func is top:
        return Use("method" if path else "call", tuple(path), load)
    return Use("attribute" if path else "escape", tuple(path), load)


def object_uses(flow, made: cst.CSTNode) -> list[Use] | None:
    name = _bound_name(flow, made)
    if name is None:
        return None
    return [classify(flow, load) for load in flow.uses(name)]

