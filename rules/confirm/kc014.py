"""Confirm-mode recipe for KC014 predict-in-loop (see the rule's docs, "Confirm mode").

What is built: the model the loop predicts with, from the code that makes it: the right-hand
side of the receiver's assignment when it calls a same-file function or a Keras model
constructor (`model = build_model()`), else the expression the model value came from (a
`Sequential([...])`/`Model(...)` call, the file's model class instantiated as the file does, or
with no arguments for `self.predict`). A model loaded from a file, or one whose layers are added
by statements that confirm mode does not run, cannot be built. Its input shape is the model's
own when it has one, else the first of (8,), (16,), (28, 28, 1), (32, 32, 3) it predicts on.
SAMPLES random inputs are predicted one sample per call, as the loop does (or, for a
look-alike, with the batch size the code uses: the whole array), and all at once; after a
warm-up of both, the faster of two timings of the batched call. `confirmed` when the
per-sample cost in the loop is more than THRESHOLD times the batched one (N9.1: 183x for
Input(16)-Dense(64)-Dense(1); 24-49x with this recipe on the fixtures' small models on a busy
2-core machine; the look-alikes, whole arrays, 1-2x). A large model on CPU is dominated by its
own compute: MobileNetV2 on 224x224 inputs measured 5x, `not reproduced`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from kerascheck.confirm.slice import Slicer, free_names
from kerascheck.confirm.target import keras_target
from kerascheck.rule import Context, Hit, MethodCallEvent, Value, call_arg, cst
from kerascheck.rules.kc014_predict_in_loop import _is_model, _single

THRESHOLD = 10.0
SAMPLES = 16
SHAPES = ((8,), (16,), (28, 28, 1), (32, 32, 3))


def _maker(ctx: Context, event: MethodCallEvent) -> tuple[cst.CSTNode | tuple[str], object] | str:
    """The expression that makes the receiver's model (or its source, in a 1-tuple), and the
    site to read it at; a string is why there is none."""
    func = event.node.func
    receiver = func.value if isinstance(func, cst.Attribute) else None
    if isinstance(receiver, cst.Name):
        found = ctx.definition(receiver)
        if isinstance(found, cst.Call):
            return found, None
    value: Value = event.receiver
    if value.kind == "self":
        if value.cls is None:
            return "the model class is not known"
        for app in ctx.picture.applies:
            if app.layer.canon.name == f"<local>.{value.cls.name}":
                return app.layer.node, app.layer.site
        return (f"{value.cls.name}()",), None
    for alt in value.alternatives():
        if alt.kind == "layer" and alt.layer is not None:
            return alt.layer.node, alt.layer.site
        if isinstance(alt.node, cst.Call):
            return alt.node, None
    return "the model's construction is not in the file"


def _job(ctx: Context, event: MethodCallEvent, batch: str) -> dict | str:
    made = _maker(ctx, event)
    if isinstance(made, str):
        return made
    node, site = made
    slicer = Slicer(ctx.picture, ctx.text, ctx)
    if isinstance(node, tuple):  # source written here: `Cls()`
        source = node[0]
        slicer.need(*free_names(source))
    else:
        source = slicer.expr(node, site)
    flavors = [alt.canon.flavor for alt in event.receiver.alternatives() if alt.canon is not None
               and alt.canon.flavor != "local"]
    flavors += [b.flavor for alt in event.receiver.alternatives() if alt.cls is not None for b in alt.cls.bases]
    return slicer.job(model=source, batch=batch, **keras_target(ctx, flavors))


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    events = hit.data["events"]
    event = next((e for e in events if _is_model(e)), events[0])
    return _job(ctx, event, "one")


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """`predict` of a Keras model in a loop on a batch that is not one sample (a whole array, a
    file, `x[i:i + 32]`), for the tests: predicting with the batch the code passes costs what a
    batched call does."""
    seen: set[int] = set()
    for event in ctx.picture.methods:
        if event.name != "predict" or id(event.node) in seen or not _is_model(event):
            continue
        seen.add(id(event.node))
        loops = ctx.loops(event.node)
        x = call_arg(event.node, "x", 0)
        if not loops or x is None:
            continue
        varying = frozenset().union(*(ctx.loop_names(loop) for loop in loops))
        if isinstance(x, cst.Name) and ctx.definition(x) is None or _single(ctx, x, varying):
            continue  # a plain loop variable or name: its batch size is not known
        made = _job(ctx, event, "all")
        if isinstance(made, dict):
            yield made


# -- the child side (TensorFlow imported) --------------------------------------------------


def _timed(fn, repeat: int = 2) -> float:
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    return best


def _input_shapes(model) -> list[tuple]:
    try:
        shape = model.input_shape
    except Exception:  # noqa: BLE001 - not built, or several inputs
        shape = None
    if isinstance(shape, tuple) and shape and all(isinstance(d, int) for d in shape[1:]):
        return [tuple(shape[1:])]
    return list(SHAPES)


def confirm(job: dict, probe) -> object:
    from kerascheck.confirm import CouldNotBuild
    from kerascheck.confirm.probe import describe

    np = probe.np
    ns = probe.namespace(job)
    path = job.get("path", "<slice>")
    try:
        model = probe.eval(job["model"], ns)
    except CouldNotBuild:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CouldNotBuild(f"making the model (`{job['model'][:80]}`) raises {describe(exc, path)}") from None
    if not hasattr(model, "predict"):
        raise CouldNotBuild(f"`{job['model'][:80]}` is not a model")
    if not getattr(model, "layers", True):
        raise CouldNotBuild("the model has no layers here: they are added by statements confirm mode does not run")
    probe.seed(0)
    rng = np.random.RandomState(0)
    errors = []
    for shape in _input_shapes(model):
        x = rng.normal(size=(SAMPLES, *shape)).astype("float32")
        try:
            model.predict(x[:1], verbose=0)
            model.predict(x, verbose=0)
        except Exception as exc:  # noqa: BLE001 - the next candidate shape may fit
            errors.append(f"input {shape}: {type(exc).__name__}")
            continue
        break
    else:
        raise CouldNotBuild("the model predicts on none of the synthetic input shapes: " + "; ".join(errors[:3]))
    batched = _timed(lambda: model.predict(x, verbose=0))
    if job.get("batch") == "one":
        looped = _timed(lambda: [model.predict(x[i:i + 1], verbose=0) for i in range(SAMPLES)], repeat=1)
        how = "one sample per predict() call"
    else:
        looped = _timed(lambda: model.predict(x, verbose=0))
        how = "the batch the code passes (the whole array)"
    ratio = looped / batched
    evidence = (f"{looped / SAMPLES * 1000:.2f} ms per sample with {how} vs {batched / SAMPLES * 1000:.3f} ms in one "
                f"batched predict() of {SAMPLES}: {ratio:.0f}x ({'>' if ratio > THRESHOLD else '<='} "
                f"{THRESHOLD:g}x), {type(model).__name__} on input {shape}")
    if ratio > THRESHOLD:
        return probe.confirmed(evidence)
    return probe.not_reproduced(evidence)
