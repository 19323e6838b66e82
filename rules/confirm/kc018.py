"""Confirm-mode recipe for KC018 channels-first-input-shape (see the rule's docs, "Confirm mode").

The flagged convolution, from its own source, is built on an input of the declared (c, h, w)
shape; its kernel shows which axis it reads as channels. `confirmed` when that is not the
channels-like first axis c (or Keras cannot even build it: the "height" c is too small for the
kernel), `not reproduced` when the kernel reads c channels.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.confirm.slice import Slicer
from kerascheck.rule import Apply, Context, Hit
from kerascheck.rules.confirm.chain import apply, construct, described, layer_item, library
from kerascheck.rules.kc018_channels_first_input_shape import CHANNELS, CONVS, _declared


def _job(ctx: Context, app: Apply, dims: tuple) -> dict:
    slicer = Slicer(ctx.picture, ctx.text)
    return slicer.job(layer=layer_item(slicer, app.layer), dims=list(dims))


def job(hit: Hit, ctx: Context, index=None) -> dict:
    return _job(ctx, hit.data["app"], hit.data["dims"])


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """2-D convolutions on a declared or Input shape of three known sizes that KC018 leaves alone
    because the channels are last or the layer says channels first."""
    for app in ctx.picture.applies:
        layer = app.layer
        if layer.canon.flavor is None or layer.short not in CONVS:
            continue
        dims = None
        if app.first:
            found = _declared(ctx, layer)
            dims = found[1] if found is not None else None
        else:
            source = ctx.shapes.input_source(app)
            shape = ctx.shapes.source(source) if source is not None else None
            dims = tuple(shape[1:]) if shape is not None else None
        if not isinstance(dims, tuple) or len(dims) != 3 or not all(isinstance(d, int) for d in dims):
            continue
        first = ctx.shapes.channels_first(layer)
        if (dims[-1] in CHANNELS and dims[0] not in CHANNELS and first is False) or \
                (dims[0] in CHANNELS and first is True):
            yield _job(ctx, app, dims)


def confirm(job: dict, probe) -> object:
    ns = probe.namespace(job)
    layer = construct(probe, ns, job["layer"])
    K = library(probe, layer)
    dims = tuple(job["dims"])
    _, out, failed = apply(K, [layer], [None, *dims])
    if failed >= 0:
        return probe.confirmed(f"{type(layer).__name__} on input {dims} cannot build: {described(out)}")
    kernel = next((tuple(w.shape) for w in layer.weights if len(w.shape) == 4), None)
    if kernel is None:
        raise RuntimeError("the layer has no 4-D kernel")
    read = kernel[2]  # (kh, kw, input channels, ...) for Conv2D, SeparableConv2D and DepthwiseConv2D
    evidence = (f"{type(layer).__name__} on input {dims}: kernel {kernel}, so it reads {read} channels; "
                f"output {tuple(out.shape)}")
    if dims[0] in CHANNELS and read != dims[0]:
        return probe.confirmed(evidence + f" (the {dims[0]} channels are taken as the height)")
    return probe.not_reproduced(evidence)
