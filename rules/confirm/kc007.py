"""Confirm-mode recipe for KC007 loss-output-units-mismatch (see the rule's docs, "Confirm mode").

A softmax over one unit: every prediction is 1.0. A categorical loss on one unit: the loss is 0
before and after training, or the sparse loss rejects label 1.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import Context, Hit
from kerascheck.rules.confirm.heads import (
    HIDDEN,
    STEPS,
    classifier,
    head_job,
    mean_loss,
    train,
)

ZERO = 1e-6  # N8.1: 0.0000 (CCE renormalises one unit to 1, then clips to 1 - 1e-7)
ONE = 1e-6  # N8.3: softmax over one unit is exactly 1.0
LABELS = {"categorical_crossentropy": "categorical", "sparse_categorical_crossentropy": "sparse",
          "binary_crossentropy": "binary"}
RANGE = "outside the valid range"  # N8.2


def _job(ctx: Context, kind: str, output, loss, comp) -> dict | str:
    if kind == "softmax" or loss is None:
        return head_job(ctx, output, mode="softmax")
    return head_job(ctx, output, loss.node, comp.event.site, mode="loss", loss_name=loss.name,
                    labels=LABELS.get(loss.name, "binary"))


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    data = hit.data
    return _job(ctx, data["kind"], data["output"], data["loss"], data["compile"])


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """A sigmoid unit with binary cross-entropy; a softmax over two or more units."""
    for comp in ctx.training.compiles:
        for output, loss in comp.pairs():
            if output.units == 1 and output.activation == "sigmoid" and loss.name == "binary_crossentropy":
                made = _job(ctx, "loss", output, loss, comp)
                if isinstance(made, dict):
                    yield made
    for output in ctx.training.squashes():
        if output.activation == "softmax" and output.units is not None and output.units >= 2:
            made = _job(ctx, "softmax", output, None, None)
            if isinstance(made, dict):
                yield made


def confirm(job: dict, probe) -> object:
    np, tf = probe.np, probe.tf
    ns, head, fn, x, labels, y = classifier(job, probe)
    if job["mode"] == "softmax":
        p = np.asarray(head.model(x))
        off = float(np.max(np.abs(p - 1.0)))
        evidence = (f"Dense({HIDDEN}, relu) -> {head.names()} ({head.units} unit(s)) on {len(x)} inputs: "
                    f"predictions {float(p.min()):.7f} to {float(p.max()):.7f}, at most {off:.2e} from 1.0 "
                    f"({'<=' if off <= ONE else '>'} {ONE:g})")
        return probe.confirmed(evidence) if off <= ONE else probe.not_reproduced(evidence)
    where = f"{job['loss_name']} on Dense({HIDDEN}, relu) -> {head.names()} ({head.units} unit(s)), 0/1 labels"
    try:
        before = mean_loss(tf, fn, y, head.model(x))
        after = train(tf, head.K, head.model, fn, x, y, STEPS)
    except Exception as exc:  # noqa: BLE001 - the error is the finding when it is the label range
        text = " ".join(str(exc).split())
        if RANGE in text:
            start = text.find("Received a label value")
            message = text[start:].split(" Label values")[0] if start >= 0 else text[:200]
            return probe.confirmed(f"{where}: {type(exc).__name__}: {message}")
        raise
    stuck = abs(before) <= ZERO and abs(after) <= ZERO
    evidence = (f"{where}: loss {before:.6f} before and {after:.6f} after {STEPS} Adam steps "
                f"({'both' if stuck else 'not both'} <= {ZERO:g})")
    return probe.confirmed(evidence) if stuck else probe.not_reproduced(evidence)
