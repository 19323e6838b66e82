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
    classifier,
    correct_pairs,
    logits_loss,
    mean_loss,
    pair_job,
    train,
)
from kerascheck.rules.kc011_double_squashing import LOSSES, findings

GAP = 0.01  # N1.6: 1.1625 vs 1.3405 (13 %), binary 0.8707 vs 0.8868 (2 %); a correct pair gives 0
W1 = "does not represent logits"


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    return pair_job(ctx, hit.data["compile"], hit.data["output"], hit.data["loss"])


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """The right pairs beside the bad ones: logits with `from_logits=True`, softmax/sigmoid with
    `from_logits=False` (not one-unit categorical heads, KC007)."""
    return correct_pairs(ctx, LOSSES, findings(ctx))


def confirm(job: dict, probe) -> object:
    tf = probe.tf
    ns, head, fn, x, labels, y = classifier(job, probe)
    K = head.K
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
