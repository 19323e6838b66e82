"""Shared by the shape recipes (KC015-KC018, KC022): a chain of the file's own layers, built on
an input of a given shape.

Parent side (no TensorFlow): `layer_item(slicer, ctx, layer)` gives a layer's constructor source
plus bindings for the names in its arguments whose values the picture knows (a loop variable
`filters` in `for filters in (32, 64)`, a helper's parameter as its call site gave it), so the
child can construct the layer where it stood. Child side: `construct(probe, ns, item)` and
`apply(K, layers, shape)`.
"""

from __future__ import annotations

from typing import Any

from kerascheck.confirm.slice import Slicer
from kerascheck.rule import Context, LayerDef, cst
from kerascheck.shapes import python_value

SYNTHETIC = {3: (20, 3), 4: (16, 16, 3), 5: (8, 8, 8, 2)}  # an input of each rank (batch included)


def bindings(layer: LayerDef) -> dict[str, str]:
    """`name -> repr(value)` for the bare names among the layer's arguments whose values the
    interpreter knows as literals where the layer was constructed."""
    found: dict[str, str] = {}
    position = 0
    for arg in layer.node.args:
        if arg.star:
            break
        key: int | str = arg.keyword.value if arg.keyword is not None else position
        if arg.keyword is None:
            position += 1
        if not isinstance(arg.value, cst.Name) or arg.value.value in ("True", "False", "None"):
            continue
        value = python_value(next((v for k, v in layer.values if k == key), None))
        if isinstance(value, (int, float, str, tuple, list)) and not isinstance(value, bool):
            found[arg.value.value] = repr(value)
    return found


def layer_item(slicer: Slicer, layer: LayerDef) -> dict[str, Any]:
    """What the child needs to construct the layer: its source and the names to bind."""
    return {"source": slicer.expr(layer.node, layer.site), "bind": bindings(layer)}


def shape_list(shape) -> list | None:
    return [d for d in shape] if shape is not None else None


# ------------------------------------------------------------------ child side


def construct(probe, ns: dict, item: dict) -> Any:
    """Construct a layer from its source, with its bindings."""
    extra = {name: probe.eval(src, ns) for name, src in item.get("bind", {}).items()}
    return probe.eval(item["source"], {**ns, **extra} if extra else ns)


def library(probe, obj: Any):
    """The Keras that made `obj`: keras (3) or tf_keras."""
    return probe.keras_for(obj)


def apply(K, layers: list, shape: list) -> tuple[Any, Any, int]:
    """Input(shape) through `layers`: (input, output, index of the layer that raised or -1).
    Raises nothing: the exception is returned as the output when a layer refuses the input."""
    batch, rest = shape[0], tuple(shape[1:])
    inputs = K.Input(shape=rest, batch_size=batch) if batch is not None else K.Input(shape=rest)
    h = inputs
    for i, layer in enumerate(layers):
        try:
            h = layer(h)
        except Exception as exc:  # noqa: BLE001 - what Keras raises is the measurement
            return inputs, exc, i
    return inputs, h, -1


def described(exc: BaseException) -> str:
    from kerascheck.confirm.probe import one_line

    return f"{type(exc).__name__}: {one_line(str(exc), 220)}"


def context_keras(ctx: Context, layer: LayerDef) -> str:
    """`tf_keras` or `keras`: which library the file's layer comes from (for messages)."""
    return "tf_keras" if layer.canon.flavor == "tf_keras" else "keras"
