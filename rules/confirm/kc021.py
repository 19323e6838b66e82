"""Confirm-mode recipe for KC021 implausible-learning-rate (see the rule's docs, "Confirm mode").

The flagged optimizer, constructed from its own source, trains the measurement's classifier
(tests/measurements/kc021_learning_rate.py: Input(8) -> 2 x Dense(64, relu) -> Dense(3, softmax) on 3
Gaussian classes, 1,200 points, batch 32, 20 epochs = 760 steps, seed 0), and so does the same
optimizer class at its default learning rate. An int learning rate, which Keras 3 refuses at
construction, is measured as the float it stands for (the evidence says so). Too high: `confirmed` when the loss ends NaN or at
least twice the default's. Too low: `confirmed` when it moved the loss by less than 5 % of what
the default moved. `not reproduced` otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from kerascheck.confirm.slice import Slicer
from kerascheck.rule import CallEvent, Context, Hit, call_arg
from kerascheck.rules.kc021_implausible_learning_rate import HIGH, LOW, rates

EPOCHS, SAMPLES, BATCH = 20, 1200, 32
WORSE, STILL = 2.0, 0.05


def _job(ctx: Context, event: CallEvent, value: float) -> dict:
    slicer = Slicer(ctx.picture, ctx.text)
    source = slicer.expr(event.node, event.site)
    cls = slicer.expr(event.node.func, event.site)
    expr = call_arg(event.node, "learning_rate", 0)
    bind = {}
    if expr is not None and ctx.code(expr).isidentifier():
        bind[ctx.code(expr)] = repr(value)
    return slicer.job(optimizer=source, cls=cls, bind=bind, value=value, low=value <= LOW)


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    event = next((e for e in ctx.picture.calls if e.node is hit.node), None)
    if event is None:
        return "the optimizer call was not found again"
    return _job(ctx, event, hit.data["value"])


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Optimizers with a literal learning rate well inside what they train with (1e-4 up to half
    of KC021's threshold; Adagrad and Adadelta up to 1)."""
    for event, name, _, value in rates(ctx):
        top = HIGH[name] / 2 if name in HIGH else 1.0 if name in ("Adagrad", "Adadelta") else None
        if top is not None and 1e-4 <= value <= top:
            yield _job(ctx, event, float(value))


def _train(probe, K, optimizer) -> tuple[float, float]:
    np = probe.np
    rng = np.random.RandomState(0)
    centers = rng.normal(0, 1.5, size=(3, 8))
    y = rng.randint(0, 3, size=SAMPLES)
    x = (centers[y] + rng.normal(size=(SAMPLES, 8))).astype("float32")
    x = (x - x.mean(0)) / x.std(0)
    onehot = np.eye(3, dtype="float32")[y]
    probe.seed(0, K)
    dense = K.layers.Dense
    model = K.Sequential([K.Input((8,)), dense(64, activation="relu"), dense(64, activation="relu"),
                          dense(3, activation="softmax")])
    model.compile(optimizer, "categorical_crossentropy", steps_per_execution=37)
    start = float(model.evaluate(x, onehot, verbose=0))
    history = model.fit(x, onehot, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    return start, float(history.history["loss"][-1])


def confirm(job: dict, probe) -> object:
    ns = probe.namespace(job)
    extra = {name: probe.eval(src, ns) for name, src in job.get("bind", {}).items()}
    rate = job["value"]
    note = ""
    try:
        optimizer = probe.eval(job["optimizer"], {**ns, **extra})
    except ValueError as exc:
        if float(rate) != int(rate) or "should be float" not in str(exc):
            raise
        # Keras 3 refuses an int learning rate at construction; measure the rate it stands for.
        optimizer = probe.eval(job["cls"], ns)(learning_rate=float(rate))
        note = f" (Keras 3 refuses the int {int(rate)}: ValueError; measured as {float(rate)})"
    K = probe.keras_for(optimizer)
    default = type(optimizer)()
    name = type(optimizer).__name__
    start, end = _train(probe, K, optimizer)
    _, end_default = _train(probe, K, default)
    base = f"{name}(learning_rate={rate:g}){note}: loss {start:.3f} -> {end:.4g}; at the default rate: -> {end_default:.4g}"
    if job["low"]:
        moved, moved_default = start - end, start - end_default
        evidence = f"{base} ({EPOCHS * SAMPLES // BATCH} steps); moved {moved:.2g} vs {moved_default:.2g}"
        if moved_default > 0 and abs(moved) < STILL * moved_default:
            return probe.confirmed(evidence + f" (< {STILL:.0%})")
        return probe.not_reproduced(evidence)
    evidence = f"{base} ({EPOCHS * SAMPLES // BATCH} steps)"
    if math.isnan(end) or end >= WORSE * end_default:
        return probe.confirmed(evidence + f" (NaN or >= {WORSE:g}x)")
    return probe.not_reproduced(evidence)
