"""Confirm-mode recipe for KC011 double-squashing (see the rule's docs, "Confirm mode").

The flagged loss (with `from_logits=True`) on the untrained outputs behind `tf.identity` (what JAX
and PyTorch compute: no repair) vs the same cross-entropy of the network's own logits (its values
before the last activation); beside it, what the TensorFlow backend computes in a traced graph,
where Keras pulls the logits back out and warns (W1), and a few training steps both ways.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

from kerascheck.rule import Context, Hit
from kerascheck.rules.confirm.heads import (
    HIDDEN,
    STEPS,
    Head,
    blobs,
    head_job,
    logits_loss,
    loss_function,
    mean_loss,
    targets,
    train,
)
from kerascheck.rules.kc011_double_squashing import LOSSES, findings

GAP = 0.01  # N1.6: 1.1625 vs 1.3405 (13 %), binary 0.8707 vs 0.8868 (2 %); a correct pair gives 0
W1 = "does not represent logits"


def _job(ctx: Context, comp, output, loss) -> dict | str:
    return head_job(ctx, output, loss.node, comp.event.site, loss_name=loss.name, labels=loss.labels)


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    return _job(ctx, hit.data["compile"], hit.data["output"], hit.data["loss"])


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """The right pairs beside the bad ones: logits with `from_logits=True`, softmax/sigmoid with
    `from_logits=False` (not one-unit categorical heads, KC007)."""
    flagged = {(id(c.where), id(o.node)) for c, o, _ in findings(ctx)}
    for comp in ctx.training.compiles:
        for output, loss in comp.pairs():
            if loss.name not in LOSSES or (id(comp.where), id(output.node)) in flagged or output.units == 1 \
                    and loss.labels != "binary":
                continue
            squash = "sigmoid" if loss.labels == "binary" else "softmax"
            if (output.activation == "linear" and loss.from_logits is True) or \
                    (output.activation == squash and loss.from_logits is False):
                made = _job(ctx, comp, output, loss)
                if isinstance(made, dict):
                    yield made


def confirm(job: dict, probe) -> object:
    np, tf = probe.np, probe.tf
    ns = probe.namespace(job)
    head = Head(job, probe, ns)
    K = head.K
    fn = loss_function(K, probe.eval(job["loss"], ns))
    x, labels = blobs(np, head)
    y = targets(np, labels, head.units, job["labels"])
    xs, ys = tf.constant(x), tf.constant(y)
    hidden = mean_loss(tf, fn, ys, tf.identity(head.model(xs)))  # no logits to recover, as on JAX/PyTorch
    logits = Head(job, probe, ns, logits=True)  # the same initial weights, without the last activation
    intended = logits_loss(K, job["loss_name"])
    correct = mean_loss(tf, intended, ys, logits.model(xs))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seen = float(tf.function(lambda: tf.reduce_mean(fn(ys, head.model(xs))))())  # as fit() traces it
    warned = any(W1 in str(w.message) for w in caught)
    gap = abs(hidden - correct) / max(abs(correct), 1e-12)
    final_double = train(tf, K, head.model, lambda t, q: fn(t, tf.identity(q)), x, y)
    final_correct = train(tf, K, logits.model, intended, x, y)
    verdict = gap > GAP
    evidence = (f"{job['loss']} on Dense({HIDDEN}, relu) -> {head.names()}: "
                f"{hidden:.4f} as JAX/PyTorch compute it (behind tf.identity) vs {correct:.4f} from the "
                f"network's logits ({gap:.1%} apart; {'>' if verdict else '<='} {GAP:.0%}); the TensorFlow "
                f"backend computes {seen:.4f} ({'warning W1 observed' if warned else 'no warning'}); after "
                f"{STEPS} Adam steps {final_double:.4f} vs {final_correct:.4f}")
    return probe.confirmed(evidence) if verdict else probe.not_reproduced(evidence)
