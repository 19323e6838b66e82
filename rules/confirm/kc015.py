"""Confirm-mode recipe for KC015 dense-on-feature-map (see the rule's docs, "Confirm mode").

The flagged path, from the feature-map layer through the Dense to the classifier, each layer from
its own source, is built on an input of the feature-map layer's static input shape (or a small
synthetic input of its rank: (20, 3), (16, 16, 3), (8, 8, 8, 2)). `confirmed` when the model's
output keeps spatial axes (rank 3 or more: one prediction per position), `not reproduced` when it
is one row per sample.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.confirm.slice import Slicer
from kerascheck.rule import Apply, Context, Hit
from kerascheck.rules.confirm.chain import SYNTHETIC, apply, construct, described, layer_item, library
from kerascheck.rules.kc015_dense_on_feature_map import FEATURE_MAPS, KEEP, _feature_map, _head
from kerascheck.shapes import INPUT_RANK

HEADS = frozenset({"Flatten", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
                   "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAvgPool1D",
                   "GlobalAvgPool2D", "GlobalMaxPool2D"})


def _job(ctx: Context, chain: tuple[Apply, ...]) -> dict | str:
    first = chain[0]
    rank = INPUT_RANK.get(first.layer.short)
    if rank is None:
        return f"no input rank known for {first.layer.short}"
    shape = ctx.shapes.input(first)
    if shape is None or len(shape) != rank + 1 or any(d is None for d in shape[1:]):
        shape = (None, *SYNTHETIC[rank + 1])
    slicer = Slicer(ctx.picture, ctx.text)
    return slicer.job(shape=list(shape), chain=[layer_item(slicer, a.layer) for a in chain])


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    return _job(ctx, hit.data["chain"])


LATER = HEADS | {"Reshape", "LSTM", "GRU", "SimpleRNN"}


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Feature map -> Flatten / global pooling -> Dense ... classifier, and feature map -> Dense
    -> ... -> Flatten / Reshape / recurrent layer -> Dense: one row per sample."""
    pic = ctx.picture
    for app in pic.applies:
        if app.layer.short == "Dense" and app.layer.canon.flavor is not None:
            found = _feature_map(app, pic)
            if found is not None:
                chain = [found[0], *reversed(found[1]), app]
                current = app
                while len(chain) < 16:
                    after = ctx.shapes.consumers(current)
                    if len(after) != 1 or after[0].layer.canon.flavor is None or after[0].layer.short == "Lambda":
                        break
                    current = after[0]
                    chain.append(current)
                if not ctx.shapes.consumers(current) and any(a.layer.short in LATER for a in chain) \
                        and current.layer.short == "Dense":
                    yield _job(ctx, tuple(chain))
        if app.layer.short not in HEADS or app.layer.canon.flavor is None:
            continue  # (the rest of the loop: a Flatten / global pooling straight after the feature map)
        producers = list(pic.producers(app))
        if len(producers) != 1 or producers[0].layer.short not in FEATURE_MAPS:
            continue
        after = ctx.shapes.consumers(app)
        if len(after) != 1 or after[0].layer.short not in KEEP | {"Dense"}:
            continue
        path = _head(ctx, after[0])
        if path is not None:
            yield _job(ctx, (producers[0], app, *path))


def confirm(job: dict, probe) -> object:
    ns = probe.namespace(job)
    layers = [construct(probe, ns, item) for item in job["chain"]]
    K = library(probe, layers[0])
    shape = job["shape"]
    _, out, failed = apply(K, layers, shape)
    names = " -> ".join(type(layer).__name__ for layer in layers)
    if failed >= 0:
        from kerascheck.confirm import CouldNotBuild

        raise CouldNotBuild(f"{names} on input {tuple(shape)}: layer {failed + 1} raised {described(out)}")
    result = tuple(out.shape)
    evidence = f"{names} on input {tuple(shape)}: output {result}"
    if len(result) >= 3:
        return probe.confirmed(evidence + f", {len(result) - 2} spatial axis(es) kept: one prediction per position")
    return probe.not_reproduced(evidence + ": one row per sample")
