"""Confirm-mode recipe for KC006 logits-into-probability-loss (see the rule's docs, "Confirm mode").

The flagged loss on the untrained outputs vs the cross-entropy of the same network's logits (the
correctly paired set-up: `from_logits=True` on the values before the last activation), then a few
training steps of each from the same initial weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from kerascheck.rule import Context, Hit
from kerascheck.rules.confirm.heads import (
    HIDDEN,
    STEPS,
    Head,
    accuracy,
    classifier,
    correct_pairs,
    logits_loss,
    mean_loss,
    pair_job,
    train,
)
from kerascheck.rules.kc006_logits_into_probability_loss import LOSSES, findings

RATIO = 1.25  # N1: 6.67 / 1.34 = 5.0 (categorical), 3.93 / 0.89 = 4.4 (binary); a correct pair gives 1.00


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    return pair_job(ctx, hit.data["compile"], hit.data["output"], hit.data["loss"])


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """The right pairs beside the bad ones: softmax/sigmoid with `from_logits=False`, a linear
    output with `from_logits=True` (not 1-unit categorical heads, KC007; not sigmoid with a
    categorical loss, which is another rule's mismatch)."""
    return correct_pairs(ctx, LOSSES, findings(ctx))


def confirm(job: dict, probe) -> object:
    np, tf = probe.np, probe.tf
    ns, flagged, declared_fn, x, labels, y = classifier(job, probe)
    K = flagged.K
    proper_fn = logits_loss(K, job["loss_name"])
    declared = mean_loss(tf, declared_fn, y, flagged.model(x))
    logits = Head(job, probe, ns, logits=True)  # the same initial weights (same seed), without the activation
    proper = mean_loss(tf, proper_fn, y, logits.model(x))
    ratio = declared / proper if proper > 0 else math.inf
    train(tf, K, flagged.model, declared_fn, x, y)
    train(tf, K, logits.model, proper_fn, x, y)
    acc_flagged = accuracy(np, flagged.model(x), labels, 0.5)  # read as probabilities, as the loss does
    acc_proper = accuracy(np, logits.model(x), labels, 0.0)
    verdict = math.isnan(declared) or ratio > RATIO
    shown = "NaN" if math.isnan(declared) else f"{declared:.3f}"
    evidence = (f"{job['loss_name']} as declared starts at {shown} on Dense({HIDDEN}, relu) -> {flagged.names()} "
                f"({flagged.units} units, Gaussian blobs); the same outputs as logits (from_logits=True): "
                f"{proper:.3f} ({'NaN' if math.isnan(declared) else f'{ratio:.2f}x'}; "
                f"{'>' if verdict else '<='} {RATIO}x); accuracy after {STEPS} Adam steps {acc_flagged:.3f} "
                f"as declared vs {acc_proper:.3f} with logits")
    return probe.confirmed(evidence) if verdict else probe.not_reproduced(evidence)
