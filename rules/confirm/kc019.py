"""Confirm-mode recipe for KC019 sigmoid-with-categorical-loss (see the rule's docs, "Confirm mode").

The flagged head on Gaussian blobs (one class per unit), trained with the flagged loss as `fit`
computes it (a traced function: on the TensorFlow backend Keras recovers the pre-sigmoid logits),
then `predict()`'s rows: confirmed when most of them do not sum to 1 (they are not probability
rows), beside the accuracy of their argmax.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import Context, Hit
from kerascheck.rules.confirm.heads import HIDDEN, accuracy, classifier, correct_pairs, pair_job
from kerascheck.rules.kc019_sigmoid_with_categorical_loss import LOSSES, findings

EPOCHS = 30
TOLERANCE = 0.05  # a row "sums to 1" within this
SHARE = 0.9  # confirmed when fewer rows than this sum to 1 (a softmax: every row)


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    return pair_job(ctx, hit.data["compile"], hit.data["output"], hit.data["loss"])


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Softmax outputs with a categorical loss (`from_logits=False`): the right pairs."""
    for made in correct_pairs(ctx, LOSSES, findings(ctx)):
        if made.get("activation") == "softmax":
            yield made


def confirm(job: dict, probe) -> object:
    np = probe.np
    ns, head, fn, x, labels, y = classifier(job, probe)
    K = head.K
    head.model.compile(optimizer=K.optimizers.Adam(0.01), loss=fn)
    head.model.fit(x, y, epochs=EPOCHS, batch_size=100, verbose=0)
    pred = np.asarray(head.model.predict(x, verbose=0))
    sums = pred.sum(axis=-1)
    share = float(np.mean(np.abs(sums - 1.0) <= TOLERANCE))
    verdict = share < SHARE
    evidence = (f"{job['loss_name']} on Dense({HIDDEN}, relu) -> {head.names()} ({head.units} units, Gaussian "
                f"blobs), {EPOCHS} epochs of fit: predict() rows sum to {sums.mean():.2f} on average "
                f"({sums.min():.2f} to {sums.max():.2f}), {share:.0%} of them within {TOLERANCE} of 1 "
                f"({'<' if verdict else '>='} {SHARE:.0%}); argmax accuracy {accuracy(np, pred, labels):.3f}")
    return probe.confirmed(evidence) if verdict else probe.not_reproduced(evidence)
