"""Confirm-mode recipe for KC016 spatial-dims-collapse (see the rule's docs, "Confirm mode").

The chain the message shows is built on an `Input` of the static shape it starts from: each
layer constructed from its own source. `confirmed` when Keras raises at the flagged layer (the
error is the evidence), `not reproduced` when the chain builds (its output shape is the evidence).
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.confirm.slice import Slicer
from kerascheck.rule import Context, Hit
from kerascheck.rules.confirm.chain import apply, construct, described, layer_item, library, shape_list
from kerascheck.rules.kc016_spatial_dims_collapse import CONVS, POOLS


def _job(ctx: Context, trail: list) -> dict | str:
    if len(trail) < 2:
        return "the chain has no layer before the flagged one"
    slicer = Slicer(ctx.picture, ctx.text)
    chain = [layer_item(slicer, step.layer) for step, _ in trail[1:]]
    return slicer.job(shape=shape_list(trail[0][1]), chain=chain)


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    return _job(ctx, hit.data["trail"])


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """The last conv/pooling layer of each chain whose sizes are known and do not collapse."""
    shapes = ctx.shapes
    done: set[int] = set()
    for app in ctx.picture.applies:
        if app.layer.short not in CONVS | POOLS or app.layer.canon.flavor is None or id(app.layer.node) in done:
            continue
        out = shapes.output(app)
        if out is None or not all(d is None or d > 0 for d in out) or shapes.collapsed(app):
            continue
        if any(c.layer.short in CONVS | POOLS for c in shapes.consumers(app)):
            continue  # the last of its chain
        trail = shapes.trail(app)
        if len(trail) >= 3 and all(s is not None and all(d is None or d > 0 for d in s) for _, s in trail):
            done.add(id(app.layer.node))
            yield _job(ctx, trail)


def confirm(job: dict, probe) -> object:
    ns = probe.namespace(job)
    layers = [construct(probe, ns, item) for item in job["chain"]]
    K = library(probe, layers[-1])
    _, out, failed = apply(K, layers, job["shape"])
    start = tuple(job["shape"])
    if failed >= 0:
        where = f"{type(layers[failed]).__name__} (layer {failed + 1} of {len(layers)})"
        evidence = f"input {start}: Keras raised at {where}: {described(out)}"
        if failed == len(layers) - 1:
            return probe.confirmed(evidence)
        return probe.not_reproduced(evidence + "; not at the flagged layer")
    return probe.not_reproduced(f"input {start} builds through {len(layers)} layers; output {tuple(out.shape)}")


