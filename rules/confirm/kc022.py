"""Confirm-mode recipe for KC022 sequential-call-misuse (see the rule's docs, "Confirm mode").

`Sequential(...)`: the flagged call itself, from its own source. `model.add(...)`: its arguments,
from their own source, given to the `add` of a new `Sequential()` of the same library. Then:
`confirmed` when it raises (the error is the evidence) or the model holds fewer layers than it was
given (one went missing silently), `not reproduced` when every layer is in it.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.confirm.slice import Slicer
from kerascheck.rule import Context, Hit, cst
from kerascheck.rules.confirm.chain import described


def _sequential_job(ctx: Context, event) -> dict:
    """The call's source, and how many layers it passes as separate positional arguments."""
    slicer = Slicer(ctx.picture, ctx.text)
    given = sum(1 for v in event.args if v.kind == "layer")
    return slicer.job(kind="sequential", call=slicer.expr(event.node, event.site), separate=given)


def _add_job(ctx: Context, call: cst.Call, site) -> dict:
    slicer = Slicer(ctx.picture, ctx.text)
    args = []
    for arg in call.args:
        source = slicer.expr(arg.value, site)
        args.append(f"{arg.keyword.value}={source}" if arg.keyword is not None else source)
    layers = [slicer.expr(a.value, site) for a in call.args if a.keyword is None]
    return slicer.job(kind="add", args=", ".join(args), layers=layers)


def _event(ctx: Context, node: cst.Call, kind: str):
    events = ctx.picture.calls if kind == "sequential" else ctx.picture.methods
    return next((e for e in events if e.node is node), None)


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    kind = hit.data["kind"]
    event = _event(ctx, hit.node, kind)
    if event is None:
        return "the call was not found again"
    return _sequential_job(ctx, event) if kind == "sequential" else _add_job(ctx, hit.node, event.site)


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Keras `Sequential([...], ...)` calls and `model.add(layer[, rebuild=...])` on known models
    that KC022 leaves alone."""
    from kerascheck.rules.kc022_sequential_call_misuse import _add, _is_layer, _sequential

    for event in ctx.picture.calls:
        if event.canon.name == "keras.Sequential" and event.canon.flavor is not None and _sequential(ctx, event) is None:
            if event.args or event.kwargs:
                yield _sequential_job(ctx, event)
    for event in ctx.picture.methods:
        if event.name == "add" and event.receiver.kind == "model" and event.args and _is_layer(event.args[0]) \
                and _add(ctx, event) is None:
            yield _add_job(ctx, event.node, event.site)


def confirm(job: dict, probe) -> object:
    ns = probe.namespace(job)
    if job["kind"] == "sequential":
        try:
            model = probe.eval(job["call"], ns)
        except Exception as exc:  # noqa: BLE001 - what Keras raises is the measurement
            return probe.confirmed(f"the call raises {described(exc)}")
        held = [type(layer).__name__ for layer in model.layers]
        given = job["separate"]
        evidence = f"the call builds a model of {len(held)} layer(s) {held}, named {model.name!r}"
        if len(held) < given:
            return probe.confirmed(evidence + f", from {given} layers passed separately: the rest were dropped")
        return probe.not_reproduced(evidence)
    layers = [probe.eval(src, ns) for src in job["layers"]]
    K = probe.keras_for(layers[0])
    model = K.Sequential()
    fresh = {**ns, "__kc_model": model}
    try:
        probe.eval(f"__kc_model.add({job['args']})", fresh)
    except Exception as exc:  # noqa: BLE001
        return probe.confirmed(f"`add` raises {described(exc)}")
    held = [type(layer).__name__ for layer in model.layers]
    evidence = f"`add` on a new Sequential keeps {len(held)} layer(s) {held}"
    if len(held) < len(job["layers"]):
        return probe.confirmed(evidence + f" of the {len(job['layers'])} it was given: the rest is silently dropped")
    return probe.not_reproduced(evidence)

