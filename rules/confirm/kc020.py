"""Confirm-mode recipe for KC020 softmax-with-regression-loss (see the rule's docs, "Confirm mode").

The flagged head on synthetic multi-label data (unit j is on where a random direction w_j of the
input is positive: about half the labels per row), trained with the flagged loss, then the labels
it predicts per row at threshold 0.5: confirmed when it never predicts two for a row while most
target rows have two or more (a softmax row cannot put two values above 0.5).
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import Context, Hit
from kerascheck.rules.confirm.heads import HIDDEN, SAMPLES, Head, head_job, loss_function

EPOCHS = 40


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    comp, output, loss = hit.data["compile"], hit.data["output"], hit.data["loss"]
    return head_job(ctx, output, loss.node, comp.event.site, loss_name=loss.name)


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Sigmoid outputs (more than one unit) trained with a regression loss: they can express
    several labels per row."""
    for comp, output, loss in ctx.training.pairs():
        if loss.family == "regression" and output.activation == "sigmoid" and output.units != 1:
            made = head_job(ctx, output, loss.node, comp.event.site, loss_name=loss.name)
            if isinstance(made, dict):
                yield made


def confirm(job: dict, probe) -> object:
    np = probe.np
    ns = probe.namespace(job)
    head = Head(job, probe, ns)
    K = head.K
    fn = loss_function(K, probe.eval(job["loss"], ns))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, *head.positions, head.features)).astype("float32")
    w = rng.normal(size=(head.features, int(head.units)))
    if tuple(head.out_positions) == tuple(head.positions):
        y = (x @ w > 0).astype("float32")
    else:  # valid convolutions shrink the grid: independent labels of the output's shape
        y = (rng.random(size=(SAMPLES, *head.out_positions, int(head.units))) < 0.5).astype("float32")
    head.model.compile(optimizer=K.optimizers.Adam(0.01), loss=fn)
    head.model.fit(x, y, epochs=EPOCHS, batch_size=100, verbose=0)
    hard = (np.asarray(head.model.predict(x, verbose=0)) > 0.5).astype("float32")
    per_row = hard.sum(axis=-1)
    multi = float(np.mean(y.sum(axis=-1) >= 2))
    tp, fp, fn_ = (hard * y).sum(), (hard * (1 - y)).sum(), ((1 - hard) * y).sum()
    f1 = 2 * tp / max(2 * tp + fp + fn_, 1.0)
    verdict = per_row.max() <= 1 and multi >= 0.5
    evidence = (f"{job['loss_name']} on Dense({HIDDEN}, relu) -> {head.names()} ({head.units} units), multi-label "
                f"targets ({y.sum(axis=-1).mean():.2f} labels per row, {multi:.0%} of rows with two or more), "
                f"{EPOCHS} epochs of fit: at most {int(per_row.max())} label(s) predicted per row at 0.5 "
                f"({per_row.mean():.2f} on average), micro F1 {f1:.3f}")
    return probe.confirmed(evidence) if verdict else probe.not_reproduced(evidence)
