"""Confirm-mode recipe for KC010 accuracy-on-regression (see the rule's docs, "Confirm mode").

As in KERAS_FACTS_2 n7_accuracy_regression.py: the flagged last layer on Input(4), compiled with
the flagged loss and accuracy metric, set to the exact least-squares fit of y = x @ w + 50, and
evaluated: the accuracy Keras reports next to R^2.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import Context, Hit
from kerascheck.rules.confirm.heads import STEPS, Head, head_job, loss_function
from kerascheck.rules.kc010_accuracy_on_regression import ACCURACY

SAMPLES = 256
MAX_ACCURACY = 0.05  # N7.2: 0.000 at R^2 = 1.000
MIN_R2 = 0.99
SQUASHED = frozenset({"sigmoid", "softmax"})


def _job(ctx: Context, comp, output, loss, metric) -> dict | str:
    return head_job(ctx, output, loss.node, comp.event.site, loss_name=loss.name,
                    metric=metric.name if metric is not None else None)


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    data = hit.data
    return _job(ctx, data["compile"], data["output"], data["loss"], data["metric"])


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """One-unit regressions the rule leaves alone: a sigmoid output tracking accuracy (0/1 targets),
    a linear output tracking other metrics."""
    for comp in ctx.training.compiles:
        if comp.metrics is None or comp.model is None or comp.model.outputs is None or len(comp.model.outputs) != 1:
            continue
        metric = next((m for m in comp.metrics if m.name in ACCURACY), None)
        for output, loss in comp.pairs():
            if loss.family != "regression" or output.units != 1:
                continue
            if (output.activation == "sigmoid" and metric is not None) or \
                    (output.activation in ("linear", "relu") and metric is None):
                made = _job(ctx, comp, output, loss, metric)
                if isinstance(made, dict):
                    yield made


def confirm(job: dict, probe) -> object:
    np = probe.np
    ns = probe.namespace(job)
    head = Head(job, probe, ns, producer=False, seed=0)
    K, model = head.K, head.model
    if head.units != 1 or head.positions:
        from kerascheck.confirm import CouldNotBuild

        raise CouldNotBuild(f"the recipe measures 1-unit Dense heads; this one outputs {model.output_shape}")
    rng = np.random.RandomState(0)
    x = rng.normal(size=(SAMPLES, 4)).astype("float32")
    w = rng.normal(size=(4, 1)).astype("float32")
    metrics = [job["metric"]] if job.get("metric") else []
    model.compile(K.optimizers.Adam(0.1), loss_function(K, probe.eval(job["loss"], ns)), metrics=metrics,
                  run_eagerly=True)
    if job.get("activation") in SQUASHED:  # what such a head models: 0/1 targets (N7.3)
        y = (x @ w > 0).astype("float32")
        model.fit(x, y, epochs=STEPS, batch_size=SAMPLES, verbose=0)
        what = f"0/1 targets, {STEPS} full-batch epochs"
    else:  # the best a regression can do: the exact least-squares fit (N7.2)
        y = x @ w + 50
        kernel_layer = next(layer for layer in head.layers if getattr(layer, "kernel", None) is not None)
        solution = np.linalg.lstsq(np.hstack([x, np.ones((SAMPLES, 1), "float32")]), y, rcond=None)[0]
        kernel_layer.set_weights([solution[:-1], solution[-1]])
        what = "y = x @ w + 50 at the exact least-squares fit"
    result = model.evaluate(x, y, batch_size=SAMPLES, verbose=0, return_dict=True)
    p = np.asarray(model(x))
    r2 = 1 - float(np.sum((p - y) ** 2) / np.sum((y - y.mean()) ** 2))
    acc = next((float(v) for k, v in result.items() if k in ("accuracy", "acc") or "acc" in k), None)
    if acc is None:
        return probe.not_reproduced(f"no accuracy metric on {head.names()} ({what}): R^2 {r2:.3f}, "
                                    f"metrics {sorted(result)}")
    verdict = acc < MAX_ACCURACY and r2 > MIN_R2
    evidence = (f"'{job['metric']}' with {job['loss_name']} on Input(4) -> {head.names()}, {what}: "
                f"accuracy {acc:.3f} at R^2 {r2:.3f} (confirmed when < {MAX_ACCURACY} at R^2 > {MIN_R2})")
    return probe.confirmed(evidence) if verdict else probe.not_reproduced(evidence)
