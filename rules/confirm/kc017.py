"""Confirm-mode recipe for KC017 input-shape-rank (see the rule's docs, "Confirm mode").

A first layer with `input_shape=`: `Sequential([layer])` from the layer's own source (which
builds it on the declared shape). An `Input`: the Input from its own source, then the layer.
`confirmed` when Keras raises (the error is the evidence), `not reproduced` when it builds.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.confirm.slice import Slicer
from kerascheck.rule import Apply, Context, Hit
from kerascheck.rules.confirm.chain import construct, described, layer_item, library
from kerascheck.rules.kc017_input_shape_rank import given_shape, needed_rank


def _job(ctx: Context, app: Apply) -> dict | str:
    slicer = Slicer(ctx.picture, ctx.text)
    item = layer_item(slicer, app.layer)
    shape = given_shape(ctx, app)
    if shape is None:
        return "the input shape the layer reads was not found again"
    source = layer_item(slicer, shape.input_def) if shape.input_def is not None else None
    return slicer.job(layer=item, input=source)


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    return _job(ctx, hit.data["app"])


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Layers whose declared or Input shape has the rank they need."""
    for app in ctx.picture.applies:
        if app.layer.canon.flavor is None:
            continue
        needed = needed_rank(ctx, app.layer)
        shape = given_shape(ctx, app) if needed is not None else None
        if shape is not None and shape.got == needed[0]:
            yield _job(ctx, app)


def confirm(job: dict, probe) -> object:
    ns = probe.namespace(job)
    layer = construct(probe, ns, job["layer"])
    K = library(probe, layer)
    name = type(layer).__name__
    try:
        if job.get("input") is None:
            model = K.Sequential([layer])
            out = tuple(model.outputs[0].shape)
            where = f"Sequential([{name}(...)]) on input {tuple(model.inputs[0].shape)}"
        else:
            inputs = construct(probe, ns, job["input"])
            if isinstance(inputs, K.layers.InputLayer):
                inputs = inputs.output
            out = tuple(layer(inputs).shape)
            where = f"{name} on Input {tuple(inputs.shape)}"
    except Exception as exc:  # noqa: BLE001 - what Keras raises is the measurement
        return probe.confirmed(f"Keras raised while building {name}: {described(exc)}")
    return probe.not_reproduced(f"{where} builds; output {tuple(out)}")
