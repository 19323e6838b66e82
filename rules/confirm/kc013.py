"""Confirm-mode recipe for KC013 undefined-weight-shape (see the rule's docs, "Confirm mode").

What is run: for a weight made in a layer or model class, the class is instantiated from the
file's own construction of it (else with no arguments) and, when that works, built
symbolically: applied to `Input(shape)` of the Keras library the class derives from, for the
input shapes the code gives for the instance (`input_shape=`, an `Input(...)` it is applied to),
else (8,), (16, 3), (8, 8, 3) in turn. For the batch-dimension case the class is also called
eagerly on a batch of 2, to show the variant that works (N4.2). For `keras.Variable(...)` the call
is evaluated. `confirmed` when creating the variable raises the error of a shape with an unknown
dimension (Keras 3: "Shapes used to initialize variables must be fully-defined"; tf_keras:
"Attempt to convert a value (None)"); `not reproduced` when the layer builds and every weight
has a fully known shape; another error is `could not build`, with its message.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.confirm import shapes
from kerascheck.confirm.slice import Slicer, lines_of, required_params
from kerascheck.confirm.target import keras_target
from kerascheck.rule import Context, Hit, cst
from kerascheck.rules.confirm.kc003 import _instantiation
from kerascheck.rules.kc013_undefined_weight_shape import METHODS

UNKNOWN_DIM = ("must be fully-defined", "convert a value (None)", "None values not supported", "not 'NoneType'")
CLASS_LOOKALIKES = 8


def _class_job(ctx: Context, cls: cst.ClassDef, kind: str, call: cst.Call | None = None) -> dict | str:
    kc = ctx.picture.class_of(cls)
    if kc is None:
        return "the weight is not made in a Keras layer or model class"
    if not any(stmt is cls for stmt in ctx.picture.module.body):
        return f"`{kc.name}` is not defined at the top level of the file: confirm mode cannot build it alone"
    slicer = Slicer(ctx.picture, ctx.text, ctx)
    slicer.need(kc.name)
    made = _instantiation(ctx, kc)
    if made is not None:
        ctor = slicer.expr(made.node, made.site)
        plans = shapes.plans(ctx, slicer, made)
    else:
        ctor, plans = f"{kc.name}()", shapes.class_plans(ctx, slicer, kc)
    lines = list(lines_of(ctx, call)) if call is not None else None
    return slicer.job(kind=kind, cls=kc.name, ctor=ctor, shapes=plans, lines=lines,
                      **keras_target(ctx, [b.flavor for b in kc.bases]))


def job(hit: Hit, ctx: Context, index=None) -> dict | str:
    call = hit.data["call"]
    cls = next((a for a in ctx.ancestors(call) if isinstance(a, cst.ClassDef)), None)
    if cls is not None:  # add_weight, or keras.Variable in a layer's method: the layer runs it
        return _class_job(ctx, cls, hit.data["kind"], call)
    slicer = Slicer(ctx.picture, ctx.text, ctx)
    return slicer.job(kind="variable", call=slicer.expr(call), **keras_target(ctx, []))


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Keras layer classes of the file that make weights (`add_weight`) and that the rule leaves
    alone, for the tests: they must build with fully known shapes."""
    flagged = set()
    from kerascheck.rules.kc013_undefined_weight_shape import check

    for hit in check(ctx):
        cls = next((a for a in ctx.ancestors(hit.node) if isinstance(a, cst.ClassDef)), None)
        flagged.add(id(cls))
    count = 0
    for kc in ctx.picture.classes:
        if kc.kind not in ("layer", "model") or id(kc.node) in flagged or count >= CLASS_LOOKALIKES:
            continue
        makes = any(e.name in METHODS and e.site.cls is kc for e in ctx.picture.methods)
        needs_args = required_params(kc.methods.get("__init__")) and _instantiation(ctx, kc) is None
        if makes and "build" in kc.methods and not needs_args:
            made = _class_job(ctx, kc.node, "lookalike")
            if isinstance(made, dict):
                count += 1
                yield made


# -- the child side (TensorFlow imported) --------------------------------------------------

EXTRA_SHAPES = ((8,), (6, 4), (4, 4, 3))


def _unknown_dim(exc: BaseException) -> bool:
    from kerascheck.confirm.probe import strip_ansi

    text = strip_ansi(str(exc))
    return any(part in text for part in UNKNOWN_DIM)


def _weights(layer) -> str:
    return ", ".join(f"{getattr(w, 'path', None) or w.name} {tuple(w.shape)}" for w in layer.weights[:4]) or "none"


def _line(exc: BaseException, path: str) -> int | None:
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _concrete(shape):
    return tuple(2 if d is None else d for d in shape) if isinstance(shape, (tuple, list)) else shape


def _patch(cls, path: str, lines: tuple[int, int], skipped: list) -> None:
    """Let the class's *other* add_weight calls with an unknown dimension go on with 2 in its place,
    so that build() reaches the flagged call; the flagged one runs as written."""
    import sys

    original = cls.add_weight

    def add_weight(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            frame = sys._getframe(1)
            line = frame.f_lineno if frame.f_code.co_filename == path else None
            if line is None or lines[0] <= line <= lines[1] or not _unknown_dim(exc):
                raise
            skipped.append(line)
            if "shape" in kwargs:
                kwargs["shape"] = _concrete(kwargs["shape"])
            else:
                args = tuple(_concrete(a) for a in args)
            return original(self, *args, **kwargs)

    cls.add_weight = add_weight


def _shapes(job: dict, probe, ns: dict, layer) -> list[tuple[object, str]]:
    out = [(tuple(shape[1:]), where) for shape, where in shapes.realise(job.get("shapes"), probe, ns, layer)]
    out += [(shape, "default") for shape in EXTRA_SHAPES if (shape, "default") not in out]
    return out + [([(8,), (8,)], "two inputs")]


def confirm(job: dict, probe) -> object:
    from kerascheck.confirm import CouldNotBuild
    from kerascheck.confirm.probe import describe, one_line

    ns = probe.namespace(job)
    path = job.get("path", "<slice>")
    lines = tuple(job.get("lines") or (0, 0))
    if job["kind"] == "variable":
        try:
            value = probe.eval(job["call"], ns)
        except Exception as exc:  # noqa: BLE001
            if _unknown_dim(exc):
                return probe.confirmed(f"evaluating the call raises {type(exc).__name__}: {one_line(str(exc), 200)}")
            raise CouldNotBuild(f"the call raises {describe(exc, path)}") from None
        return probe.not_reproduced(f"the call made a variable of shape {tuple(value.shape)}")
    skipped: list[int] = []
    cls = ns.get(job["cls"])
    if isinstance(cls, type) and job["kind"] != "lookalike":
        _patch(cls, path, lines, skipped)

    def raised(exc: BaseException, what: str) -> object:
        line = _line(exc, path)
        if not _unknown_dim(exc):
            raise CouldNotBuild(f"{what} raises {describe(exc, path)}") from None
        if job["kind"] != "lookalike" and line is not None and not lines[0] <= line <= lines[1]:
            raise CouldNotBuild(f"{what} raises at line {line}, before the flagged line {lines[0]}: "
                                f"{type(exc).__name__}: {one_line(str(exc), 160)}") from None
        note = f" (other weights with an unknown dimension given 2 to get there: line {skipped[0]})" if skipped else ""
        return probe.confirmed(f"{what} raises {type(exc).__name__}: {one_line(str(exc), 200)}{note}")

    try:
        layer = probe.eval(job["ctor"], ns)
    except Exception as exc:  # noqa: BLE001
        return raised(exc, f"constructing `{job['ctor']}`")
    K = probe.keras_for(layer)
    errors = []
    for dims, where in _shapes(job, probe, ns, layer):
        fresh = probe.eval(job["ctor"], ns)
        skipped.clear()
        inputs = [K.Input(shape=d) for d in dims] if isinstance(dims, list) else K.Input(shape=dims)
        try:
            fresh(inputs)
        except Exception as exc:  # noqa: BLE001 - the next candidate shape may fit
            if _unknown_dim(exc):
                verdict = raised(exc, f"building {job['cls']} symbolically on Input({dims}) ({where})")
                return _with_eager(verdict, job, probe, ns, dims) if job["kind"] == "batch" else verdict
            errors.append(f"Input({dims}): {type(exc).__name__}: {one_line(str(exc), 120)}")
            continue
        if all(None not in tuple(w.shape) for w in fresh.weights):
            return probe.not_reproduced(f"{job['cls']} builds symbolically on Input({dims}) ({where}) with fully known "
                                        f"weight shapes: {_weights(fresh)}")
    raise CouldNotBuild(f"no input shape builds {job['cls']}: " + "; ".join(errors[:2]))


def _with_eager(verdict, job: dict, probe, ns: dict, dims) -> object:
    """The batch-dimension variant builds when called eagerly on a fixed batch (N4.2): say so."""
    from dataclasses import replace

    if isinstance(dims, list):
        return verdict
    try:
        fresh = probe.eval(job["ctor"], ns)
        fresh(probe.np.zeros((2, *dims), "float32"))
    except Exception:  # noqa: BLE001 - only adds to the evidence
        return verdict
    return replace(verdict, evidence=verdict.evidence + f"; called eagerly on a batch of 2 it builds ({_weights(fresh)})")
