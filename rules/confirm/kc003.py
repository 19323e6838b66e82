"""Confirm-mode recipe for KC003 constraint-init-mismatch (see the rule's docs, "Confirm mode").

What is built: the flagged layer alone, from its own constructor source in the file's slice
(imports, the definitions it uses, and the values its function binds once by `name = expr`,
e.g. `c = NonNeg()`), built on the input shape the code gives (shapes.py: `input_shape=`,
`batch_input_shape=`, `input_dim=`, or its producers back to their `Input(...)`, rebuilt
symbolically), else on a small default (shapes.default_shape); a weight of fewer than
MIN_ENTRIES entries is drawn again with seeds 1, 2, ... (one draw of a 1x1 kernel says nothing). For `add_weight`, the custom layer class is
instantiated as the file does it (else with no arguments) and built; the variable made by the
flagged call is picked out by its line. Then the constraint object the variable holds is applied
to the initial value, as the optimizer would after its first step (F3.1), and the share of
entries it changes is measured. Threshold CHANGED_SHARE: measured on the fixtures, positives
change 15.6-100 % (zero-mean initializers 25-75 % of small weights, ~50 % of large ones; the
LSTM forget-gate bias 25 %; RandomUniform(-0.1, 0.4) 15.6 % of an 8x8 kernel; Constant(2)
under clip(0, 1) 100 %); every clean look-alike changes 0 %.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.confirm import shapes
from kerascheck.confirm.probe import fatal
from kerascheck.confirm.slice import Slicer, lines_of
from kerascheck.confirm.target import keras_target
from kerascheck.rule import Context, Hit, KerasClass, LayerDef, call_arg, cst, literal_string
from kerascheck.rules.kc003_constraint_init_mismatch import (
    FORGET_GATE,
    WEIGHT_NAMES,
    WEIGHTS,
    _breaks,
    _has_star,
    _layer_pairs,
    _local_constraint,
    _number,
    _positional_count,
    _weight_name,
    _weight_pairs,
)

CHANGED_SHARE = 0.5  # percent of the entries: above it, confirmed
MIN_ENTRIES = 64  # a smaller weight is initialised again with other seeds until this many entries
CHANGE_TOL = 1e-6  # |c(w) - w| above this (plus 1e-6 relative) counts as a change
# The variable each constraint keyword governs, by attribute (on the layer, or its RNN cell).
CONFIRM_ATTRS = {
    "kernel_constraint": ("kernel",), "recurrent_constraint": ("recurrent_kernel",),
    "bias_constraint": ("bias",), "embeddings_constraint": ("embeddings",),
    "gamma_constraint": ("gamma",), "beta_constraint": ("beta",), "alpha_constraint": ("alpha",),
    "depthwise_constraint": ("depthwise_kernel", "kernel"), "pointwise_constraint": ("pointwise_kernel",),
}
def _layer_job(ctx: Context, layer: LayerDef, keyword: str) -> dict:
    slicer = Slicer(ctx.picture, ctx.text, ctx)
    source = slicer.expr(layer.node, layer.site)
    base = keyword[: -len("_constraint")]
    return slicer.job(kind="layer", layer=source, keyword=keyword, shapes=shapes.plans(ctx, slicer, layer),
                      what=f"{WEIGHT_NAMES.get(base, base)} of {layer.short}",
                      **keras_target(ctx, [layer.canon.flavor]))


def _instantiation(ctx: Context, kc: KerasClass) -> LayerDef | None:
    for app in ctx.picture.applies:
        if app.layer.canon.name == f"<local>.{kc.name}":
            return app.layer
    return None


def _weight_job(ctx: Context, kc: KerasClass, fn: cst.FunctionDef, call: cst.Call, made: LayerDef | None) -> dict:
    slicer = Slicer(ctx.picture, ctx.text, ctx)
    slicer.need(kc.name)
    if made is not None:
        ctor = slicer.expr(made.node, made.site)
        plans = shapes.plans(ctx, slicer, made)
    else:
        ctor, plans = f"{kc.name}()", []
    call_source = slicer.expr(call)
    name = _weight_name(call)
    params = [p.name.value for p in fn.params.params]
    # `add_weight("gate", (4,))`: the name by position is Keras 2's signature; Keras 3 raises on it.
    idiom = None
    if literal_string(call_arg(call, "", 0)) is not None:
        idiom = f"`add_weight({literal_string(call_arg(call, '', 0))!r}, ...)` passes the name by position, as only Keras 2 accepts"
    return slicer.job(kind="add_weight", cls=kc.name, ctor=ctor, shapes=plans, call=call_source,
                      params=params, method=fn.name.value, lines=list(lines_of(ctx, call)),
                      what=f"weight {name!r} of {kc.name}" if name else f"the add_weight() weight of {kc.name}",
                      **keras_target(ctx, [b.flavor for b in kc.bases], idiom))


def job(hit: Hit, ctx: Context, index=None) -> dict | str | None:
    if "layer" in hit.data:
        return _layer_job(ctx, hit.data["layer"], hit.data["keyword"])
    if "call" in hit.data:
        kc = hit.data["cls"]
        return _weight_job(ctx, kc, hit.data["method"], hit.data["call"], _instantiation(ctx, kc))
    return None


def _max_norm(ctx: Context, expr: cst.BaseExpression) -> float | None:
    """max_value of a MaxNorm / max_norm / "max_norm" constraint with a literal (or default) bound."""
    if literal_string(expr) == "max_norm":
        return 2.0
    if isinstance(expr, cst.Name):
        found = ctx.definition(expr)
        return _max_norm(ctx, found) if isinstance(found, cst.BaseExpression) else None
    if not isinstance(expr, cst.Call) or not isinstance(expr.func, (cst.Name, cst.Attribute)) or _has_star(expr):
        return None
    canon = ctx.resolve(expr.func, expr)
    if canon is None or canon.flavor is None or canon.name not in ("keras.constraints.MaxNorm",
                                                                   "keras.constraints.max_norm"):
        return None
    if any(a.keyword is not None and a.keyword.value not in ("max_value", "axis") for a in expr.args):
        return None
    value = call_arg(expr, "max_value", 0)
    return 2.0 if value is None else _number(value)


def _constraint_class(ctx: Context, expr: cst.BaseExpression, depth: int = 0) -> KerasClass | None:
    """The file's Constraint class an argument instantiates (directly or through a name bound once)."""
    if isinstance(expr, cst.Name) and depth < 4:
        found = ctx.definition(expr)
        return _constraint_class(ctx, found, depth + 1) if isinstance(found, cst.BaseExpression) else None
    return _local_constraint(ctx, expr.func) if isinstance(expr, cst.Call) else None


def _legacy_backend(ctx: Context, kc: KerasClass) -> bool:
    """The constraint calls `keras.backend.<fn>` through standalone `keras`: Keras 3 has no such
    functions (AttributeError on the first call), so the recipe cannot measure it."""
    fn = kc.methods.get("__call__")
    if fn is None:
        return False
    for node in ctx.walk(fn):
        if isinstance(node, cst.Call) and isinstance(node.func, (cst.Name, cst.Attribute)):
            canon = ctx.resolve(node.func, node)
            if canon is not None and canon.flavor == "keras" and canon.name.startswith("keras.backend."):
                return True
    return False


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Clean code next to the bad pattern, for the tests: the recipe must say `not reproduced`.

    Element-wise constraints whose initializer the rule proves inside the bound (NonNeg on zeros,
    ones, Constant(c >= 0), RandomUniform(0, ...), Identity, default bias/gamma/beta/alpha; a clip
    around ones), and MaxNorm(max_value >= 2) on a default glorot_uniform kernel or a zeros bias,
    which never rescales (F3.7). add_weight only in a class the file instantiates. Not UnitNorm or
    MinMaxNorm: they do rescale initial columns (F3.7); the rule is silent on them for another
    reason (no entry is zeroed). Not constraints built on standalone `keras.backend.clip` & co.,
    which Keras 3 no longer has (the recipe reports `could not build` for them).
    """
    import importlib.util

    legacy = importlib.util.find_spec("tf_keras") is not None  # tf_keras layers need it installed
    seen: set[tuple[int, str]] = set()
    for layer, keyword, arg, bound, init in _layer_pairs(ctx):
        if _breaks(init, bound) or (layer.canon.flavor == "tf_keras" and not legacy):
            continue
        if (id(layer.node), keyword) in seen:
            continue
        seen.add((id(layer.node), keyword))
        kc = _constraint_class(ctx, arg)
        if kc is not None and _legacy_backend(ctx, kc):
            continue
        yield _layer_job(ctx, layer, keyword)
    for layer in ctx.picture.layers:
        table = WEIGHTS.get(layer.name)
        if table is None or layer.canon.flavor in (None, "mixed") or _has_star(layer.node):
            continue
        if layer.canon.flavor == "tf_keras" and not legacy:
            continue
        for keyword, (init_kw, default, position, switch) in table.items():
            arg = call_arg(layer.node, keyword, None)
            if arg is None or default not in ("glorot_uniform", "zeros") or call_arg(layer.node, init_kw, None):
                continue
            if (id(layer.node), keyword) in seen:
                continue
            seen.add((id(layer.node), keyword))
            if _positional_count(layer.node) > position or call_arg(layer.node, "weights", None) is not None:
                continue
            if switch is not None and call_arg(layer.node, switch, None) is not None:
                continue
            if keyword == "bias_constraint" and layer.name in FORGET_GATE:
                continue
            value = _max_norm(ctx, arg)
            if value is not None and value >= 2.0:
                yield _layer_job(ctx, layer, keyword)
    for kc, call, arg, bound, init in _weight_pairs(ctx):
        made = _instantiation(ctx, kc)
        if made is not None and not _breaks(init, bound):
            yield _weight_job(ctx, kc, ctx.enclosing_function(call), call, made)


# -- the child side (TensorFlow imported) --------------------------------------------------


def _zeros(layer, shape: tuple, np):
    dims = tuple(2 if d is None else d for d in shape)
    if type(layer).__name__ == "Embedding":
        return np.zeros(dims, dtype="int32")
    return np.zeros(dims, dtype="float32")


def _build(layer, shape: tuple, np) -> None:
    if type(layer).__name__ == "MultiHeadAttention":
        x = _zeros(layer, shape, np)
        layer(x, x)
        return
    try:
        layer.build(shape)
    except Exception:  # some layers only build from a call
        if getattr(layer, "built", False):
            raise
        layer(_zeros(layer, shape, np))


def _is_variable(v) -> bool:
    return v is not None and hasattr(v, "assign") and hasattr(v, "shape")


def _layer_variables(layer, keyword: str) -> tuple[object, list]:
    names = CONFIRM_ATTRS.get(keyword, ())
    for holder in (layer, getattr(layer, "cell", None)):
        if holder is None:
            continue
        for attr in names:
            try:
                v = getattr(holder, attr, None)
            except Exception:  # noqa: BLE001 - a property that needs something else
                v = None
            if _is_variable(v):
                return holder, [v]
    # Sub-layers' weights (MultiHeadAttention's query/key/value/output projections).
    found = [v for v in layer.weights if str(getattr(v, "name", "")).split("/")[-1].split(":")[0] in names]
    return layer, found


def _built_layer(job: dict, probe, ns: dict):
    from kerascheck.confirm import CouldNotBuild

    np = probe.np
    first = probe.eval(job["layer"], ns)
    errors = []
    for shape, where in shapes.realise(job.get("shapes"), probe, ns, first):
        probe.seed(0)
        layer = probe.eval(job["layer"], ns)  # a fresh layer per attempt
        try:
            _build(layer, shape, np)
        except Exception as exc:  # noqa: BLE001 - the next candidate shape may fit
            fatal(exc)
            errors.append(f"input {shape} ({where}): {type(exc).__name__}: {exc}")
            continue
        holder, variables = _layer_variables(layer, job["keyword"])
        if not variables:
            raise CouldNotBuild(f"{type(layer).__name__} built on {shape} has no weight for {job['keyword']}")
        constraint = getattr(variables[0], "constraint", None) or getattr(holder, job["keyword"], None)
        note = f"{type(layer).__name__} on input {shape} ({where})"
        entries, draws = sum(int(np.prod(v.shape)) for v in variables), 1
        while entries < MIN_ENTRIES and draws < MIN_ENTRIES:  # a 1x1 kernel: one draw says nothing
            probe.seed(draws)
            again = probe.eval(job["layer"], ns)
            _build(again, shape, np)
            more = _layer_variables(again, job["keyword"])[1]
            variables += [(v, getattr(v, "constraint", None) or constraint) for v in more]
            entries += sum(int(np.prod(v.shape)) for v in more)
            draws += 1
        if draws > 1:
            note += f", {draws} initialisations (seeds 0-{draws - 1}: the weight has {entries // draws} entries)"
        return variables, constraint, note
    raise CouldNotBuild(f"no input shape builds {type(first).__name__}: " + "; ".join(errors[:2]))


def _built_weight(job: dict, probe, ns: dict):
    import sys

    from kerascheck.confirm import CouldNotBuild
    from kerascheck.confirm.probe import describe, one_line

    np = probe.np
    cls = ns.get(job["cls"])
    if not isinstance(cls, type):
        raise CouldNotBuild(f"class {job['cls']} is not defined by the slice")
    path, (lo, hi) = job.get("path", "<slice>"), job["lines"]
    made: list = []
    original = cls.add_weight

    def add_weight(self, *args, **kwargs):
        v = original(self, *args, **kwargs)
        frame = sys._getframe(1)
        if frame.f_code.co_filename == path and lo <= frame.f_lineno <= hi:
            made.append(v)
        return v

    cls.add_weight = add_weight  # the slice's own class object: recorded per job
    probe.seed(0)
    layer = probe.eval(job["ctor"], ns)
    if made:
        return made[-1:], None, f"{job['cls']} constructed"
    failure, candidates = None, shapes.realise(job.get("shapes"), probe, ns, layer)
    for shape, where in candidates:
        probe.seed(0)
        layer = probe.eval(job["ctor"], ns)
        try:
            layer.build(shape)
            if not made:  # weights made lazily in call()
                layer(_zeros(layer, shape, np))
        except Exception as exc:  # noqa: BLE001
            fatal(exc)
            failure = failure or exc
        if made:
            return made[-1:], None, f"{job['cls']} on input {shape} ({where})"
    # build() failed before reaching the flagged call (or never made it): run that call alone.
    shape = candidates[0][0]
    local = dict(ns)
    params = job.get("params") or ["self"]
    local[params[0]] = layer
    for p in params[1:]:
        local[p] = shape
    try:
        v = probe.eval(job["call"], local)
    except Exception as exc:  # noqa: BLE001
        fatal(exc)
        before = f"raised {describe(failure, path)}" if failure is not None else "never made the weight"
        raise CouldNotBuild(f"{job['cls']}.{job['method']}() {before}; the flagged add_weight call alone "
                            f"raised {type(exc).__name__}: {one_line(str(exc), 160)} (line {lo})") from None
    note = f"the add_weight call evaluated alone with input {shape}"
    if failure is not None:
        note += f" ({job['cls']}.{job['method']}() raised {describe(failure, path)})"
    return [v], None, note


def confirm(job: dict, probe) -> object:
    from kerascheck.confirm import CouldNotBuild
    from kerascheck.confirm.probe import describe

    np = probe.np
    ns = probe.namespace(job)
    if job.get("kind") == "add_weight":
        variables, constraint, note = _built_weight(job, probe, ns)
    else:
        variables, constraint, note = _built_layer(job, probe, ns)
    what = job.get("what", "the weight")
    before_parts, after_parts, names, dims = [], [], set(), []
    for v in variables:
        v, c = v if isinstance(v, tuple) else (v, getattr(v, "constraint", None) or constraint)
        if c is None:
            raise CouldNotBuild(f"{what} holds no constraint after build")
        names.add(type(c).__name__)
        before = np.asarray(v, dtype="float64")
        try:
            after = np.asarray(c(v), dtype="float64")
        except Exception as exc:  # noqa: BLE001 - the optimizer's first step would raise the same
            raise CouldNotBuild(f"applying {type(c).__name__} to {what} raised "
                                f"{describe(exc, job.get('path', '<slice>'))}") from None
        if after.shape != before.shape:
            after = np.broadcast_to(after, before.shape)
        before_parts.append(before.ravel())
        after_parts.append(after.ravel())
        dims.append("x".join(str(d) for d in before.shape) or "scalar")
    if len(set(dims)) == 1 and len(dims) > 1:
        dims = [f"{dims[0]} x{len(dims)}"]
    before, after = np.concatenate(before_parts), np.concatenate(after_parts)
    if before.size == 0:
        raise CouldNotBuild(f"{what} has no entries")
    changed = np.abs(after - before) > CHANGE_TOL + CHANGE_TOL * np.abs(before)
    n, total = int(changed.sum()), int(before.size)
    share = 100.0 * n / total
    cname = "/".join(sorted(names))
    if n and bool(np.all(after[changed] == 0)):
        effect = "set them to exactly 0"
    elif n and bool(np.all(after[changed] * before[changed] < 0)):
        effect = "flip their sign"
    else:
        effect = "move them to the constraint's bounds"
    confirmed = share > CHANGED_SHARE
    evidence = (f"{share:.1f} % of the initial entries of {what} ({'+'.join(dims)}: {n} of {total}) change under "
                f"{cname} ({'>' if confirmed else '<='} {CHANGED_SHARE} %); initial range "
                f"[{before.min():.3g}, {before.max():.3g}], {note}; ")
    if confirmed:
        return probe.confirmed(evidence + f"the first optimizer step will {effect}")
    return probe.not_reproduced(evidence + "the constraint leaves them as they are")
