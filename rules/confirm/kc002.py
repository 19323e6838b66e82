"""Confirm-mode recipe for KC002 dropout-ignores-training (see the rule's docs, "Confirm mode").

What is built: the flagged Layer/Model class (from the file's slice: its imports, the class and
whatever it uses), constructed with its defaults - or, when `__init__` has required parameters,
with the arguments of a `Cls(...)` call of the same file whose arguments are all literals, else
with values synthesised from the parameters' names and type hints (slice.synthesise), else with a
module-level call's arguments the slice can evaluate - or the flagged Lambda layer from its own
constructor source (a function nested in a builder is defined from its own source). It is called
eagerly, as predict() calls it (F2.5), with `training=False` on N(0, 1) inputs (seed 0; one input
per required positional parameter of call(), all of one shape; an all-True `mask` when call()
takes one). Shapes are tried in order: the ones the code gives the class (shapes.py: the
`Input(...)` and the layers before it, a `build()` call, an array it is called on; batch 4), then
(4, 16), (4, 8, 16), (2, 8, 8, 4): the first that runs is used. Then the same object (same
weights) is called again with every dropout function replaced by the identity: in the modules
that define or re-export them (tf.nn, tf.compat.v1/v2.nn, tf.nn.experimental, keras.random,
tf.keras.backend, tf_keras.backend, ...), in the slice's namespace and in the object's own
attributes; everything is restored afterwards. A second identity run checks that nothing else
in the code is random. Measured: the share of output values that differ between the run as
written and the identity run (np.isclose, rtol 1e-4, atol 1e-6), the share of exact zeros in
each, how often a dropout function ran, and whether two runs as written differ (stateless
dropout gives the same wrong output every time, F2.3, so that is evidence, not the test).
Threshold: confirmed when more than 1 % of the output values differ. Measured on the fixtures:
every positive 48-100 % (the survivors are rescaled, so nearly every value downstream of the
dropout changes; 48-50 % where a ReLU before it or a loop's last ReLU already zeroes half of
them); every clean look-alike 0.0 % (gated: the function never runs at training=False; rate 0,
a result thrown away or deselected: it runs and changes nothing).
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.confirm import shapes
from kerascheck.confirm.probe import fatal
from kerascheck.confirm.slice import Slicer, construction_args, nested_def, required_params, synthesise
from kerascheck.confirm.target import keras_target
from kerascheck.rule import NOT_CONSTANT, Context, Hit, LayerDef, cst
from kerascheck.rules.kc002_dropout_ignores_training import (
    DROPOUTS,
    lambda_in_model,
    check,
    mc_name,
)

DIFF_THRESHOLD = 0.01
# Tried after the shapes the code gives; the last two fit a class built with synthesised sizes (8).
SHAPES = ((4, 16), (4, 8, 16), (2, 8, 8, 4), (4, 8), (4, 8, 8))


def _inputs_of(call: cst.FunctionDef | None) -> tuple[int, bool]:
    """(number of tensor inputs, does call() take a mask) from call()'s signature."""
    if call is None:
        return 1, False
    p = call.params
    names = [q.name.value for q in (*p.posonly_params, *p.params, *p.kwonly_params)]
    required = [n for n in required_params(call) if n not in ("training", "mask") and n not in
                {q.name.value for q in p.kwonly_params}]
    return max(1, len(required)), "mask" in names


def _constructor(ctx: Context, slicer: Slicer, kc) -> str | None:
    """The arguments to construct the class with: a `Cls(...)` call of the file with literal
    arguments; else its defaults, with a value synthesised for each required parameter from its
    name and type hint (listed in the job); else a module-level `Cls(...)` call whose arguments the
    slice can evaluate (`Cls(NUM_CLASSES)`). None when none of these works."""
    init = kc.methods.get("__init__")
    required = required_params(init)
    if not required:
        return ""
    args = construction_args(ctx.picture.module, kc.name)
    if args is not None:
        return args
    for made in shapes.instances(ctx, kc):  # `Block(EMBED_DIM, 2)`: constants the file gives
        call = made.node
        if isinstance(call, cst.Call) and call.args and not any(a.star for a in call.args) and all(
                ctx.constant(a.value) is not NOT_CONSTANT for a in call.args):
            source = slicer.expr(call, made.site)
            return source[source.index("(") + 1: source.rindex(")")]
    p = init.params
    by_name = {q.name.value: q for q in (*p.posonly_params, *p.params, *p.kwonly_params)}
    made = {}
    for name in required:
        param = by_name[name]
        hint = slicer.source(param.annotation.annotation) if param.annotation is not None else None
        value = synthesise(name, hint)
        if value is None:
            break
        made[name] = value
    else:
        slicer.synthesised.extend(f"{k}={v}" for k, v in made.items())
        positional_only = {q.name.value for q in p.posonly_params}
        return ", ".join(v if k in positional_only else f"{k}={v}" for k, v in made.items())
    for made in shapes.instances(ctx, kc):  # the class built at module level with evaluable arguments
        call = made.node
        if ctx.enclosing_function(call) is None and isinstance(call, cst.Call) \
                and not any(a.star for a in call.args) and slicer.safe(call):
            source = slicer.expr(call)
            return source[source.index("(") + 1: source.rindex(")")]
    return None


def _class_job(ctx: Context, kc) -> dict | str:
    pic = ctx.picture
    slicer = Slicer(pic, ctx.text, ctx)
    nested = nested_def(pic.module, ctx.text, kc.node, slicer)
    args = _constructor(ctx, slicer, kc)
    if args is None:
        need = ", ".join(f"`{r}`" for r in required_params(kc.methods.get("__init__")))
        return (f"`{kc.name}.__init__` needs {need}: no value can be synthesised from the name and the file has "
                f"no `{kc.name}(...)` call whose arguments confirm mode can evaluate")
    slicer.need(kc.name)
    n_inputs, mask = _inputs_of(kc.methods.get("call"))
    plans = shapes.class_plans(ctx, slicer, kc)
    flavors = [b.flavor for b in kc.bases]
    return slicer.job(make=f"{kc.name}({args})", what=f"{kc.name}({args})", defs=[nested] if nested else [],
                      inputs=n_inputs, mask=mask, shapes=[list(s) for s in SHAPES], plans=plans,
                      **keras_target(ctx, flavors))


def _lambda_job(ctx: Context, layer: LayerDef) -> dict | str:
    pic = ctx.picture
    slicer = Slicer(pic, ctx.text, ctx)
    source = slicer.expr(layer.node, layer.site)
    defs = []
    fn_expr = layer.arg("function", 0)
    if isinstance(fn_expr, cst.Name):
        target = ctx.function_named(fn_expr.value, layer.node)
        if target is not None:
            nested = nested_def(pic.module, ctx.text, target, slicer)
            if nested is not None:
                defs.append(nested)
                slicer.params(target)
    what = " ".join(source.split())
    what = what if len(what) <= 60 else what[:57] + "..."
    return slicer.job(make=source, what=what, defs=defs, inputs=1, mask=False,
                      shapes=[list(s) for s in SHAPES], plans=shapes.plans(ctx, slicer, layer),
                      **keras_target(ctx, [layer.canon.flavor]))


def job(hit: Hit, ctx: Context, index=None) -> dict | str | None:
    owner, lam = hit.data.get("owner"), hit.data.get("lambda")
    if lam is not None:
        return _lambda_job(ctx, lam)
    if owner is not None:
        return _class_job(ctx, owner)
    return None


_RAISE_ON_BOOL = frozenset({"tensorflow.cond", "tensorflow.compat.v1.cond"})
_KERAS2_ONLY = frozenset({"keras.backend.learning_phase", "keras.backend.in_train_phase",
                          "keras.backend.in_test_phase"})


def _runs_at_inference(ctx: Context, node: cst.CSTNode) -> bool:
    """False for code that raises when called with training=False, so no verdict can be clean:
    `tf.cond` on the flag (F2.7), `K.switch` on a Python bool, and Keras 2's
    learning-phase functions reached through a Keras 3 spelling (Keras 3 has none of them)."""
    for sub in ctx.walk(node):
        if isinstance(sub, cst.Call) and isinstance(sub.func, (cst.Name, cst.Attribute)):
            canon = ctx.resolve(sub.func, sub)
            last = sub.func.value if isinstance(sub.func, cst.Name) else sub.func.attr.value
            if last == "switch" or (canon is not None and canon.name in _RAISE_ON_BOOL):
                return False
            if canon is not None and canon.name in _KERAS2_ONLY and canon.flavor not in ("tf_keras", "tf.python.keras"):
                return False
    return True


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Clean look-alikes, for the tests: the recipe must say `not reproduced` on each.

    Layer/Model classes (and Lambda layers) whose call() path does contain a dropout function
    that the rule leaves alone: gated on `training` in any of the ways the rule accepts, a rate of
    0, a result thrown away. Not deliberate Monte-Carlo dropout (it does drop at inference, by
    design), not code that raises at training=False (`tf.cond` on the flag, F2.7; `K.switch` on
    a Python bool; `K.learning_phase()` / `K.in_train_phase` spelled through Keras 3, which has
    neither), not a Lambda built or applied only for training (run on its own it drops), and not
    a class that cannot be constructed from the file.
    """
    pic = ctx.picture
    flagged = {id(h.node) for h in check(ctx)}
    events = [e for e in pic.calls if e.canon.name in DROPOUTS]
    for kc in pic.classes:
        call = kc.methods.get("call")
        if kc.kind not in ("layer", "model") or call is None:
            continue
        if not any(s is call for s in kc.node.body.body if isinstance(kc.node.body, cst.IndentedBlock)):
            continue
        if mc_name(kc.name):
            continue
        on_way = [e for e in events if any(s.function is call for s in e.site.chain())]
        reached = [e.node for e in on_way]
        if not reached or any(id(c) in flagged for c in reached) or _deliberate(ctx, on_way):
            continue
        if not _runs_at_inference(ctx, kc.node):
            continue
        made = _class_job(ctx, kc)
        if isinstance(made, dict):
            yield made
    for layer in pic.lambdas:
        fn_expr = layer.arg("function", 0)
        if isinstance(fn_expr, cst.Lambda):
            fn = fn_expr
        elif isinstance(fn_expr, cst.Name):
            fn = ctx.function_named(fn_expr.value, layer.node)
            if fn is None or mc_name(fn.name.value):
                continue
        else:
            continue
        if not lambda_in_model(ctx, layer):
            continue
        if not _runs_at_inference(ctx, fn):
            continue
        reached = [e.node for e in events if any(s.function is fn for s in e.site.chain())]
        if not reached or any(id(c) in flagged for c in reached):
            continue
        made = _lambda_job(ctx, layer)
        if isinstance(made, dict):
            yield made


def _deliberate(ctx: Context, events) -> bool:
    """Monte-Carlo dropout as the rule reads it (a name, a docstring, a comment on the way)."""
    from kerascheck.rules.kc002_dropout_ignores_training import deliberate

    return any(deliberate(ctx, e.site) for e in events)


# -- child side (TensorFlow) --------------------------------------------------------------------


def _originals(probe) -> list:
    """The dropout functions themselves (each object once), from the libraries that are loaded."""
    import sys

    tf = probe.tf
    found = [tf.nn.dropout, tf.compat.v1.nn.dropout, tf.nn.experimental.stateless_dropout]
    getters = [lambda: tf.keras.backend.dropout]
    if "keras" in sys.modules:  # Keras 3: loaded by the Keras 3 child or by the user's imports
        getters.append(lambda: sys.modules["keras"].random.dropout)
    if "tf_keras" in sys.modules:
        getters.append(lambda: sys.modules["tf_keras"].backend.dropout)
    for getter in getters:
        try:
            found.append(getter())
        except Exception:  # noqa: BLE001, S110 - not in this Keras
            pass
    unique = []
    for fn in found:
        if not any(fn is u for u in unique):
            unique.append(fn)
    return unique


class _Patch:
    """Replace the dropout functions everywhere they are bound: counting or identity."""

    def __init__(self, probe, ns: dict, objects: list) -> None:
        import sys

        self.originals = _originals(probe)
        ids = {id(f): f for f in self.originals}
        self.sites: list[tuple[object, str, object]] = []  # (dict or object, attribute, original)
        for module in list(sys.modules.values()):
            d = getattr(module, "__dict__", None)
            if isinstance(d, dict):
                for attr in ("dropout", "dropout_v2", "stateless_dropout"):
                    if id(d.get(attr)) in ids:
                        self.sites.append((module, attr, d[attr]))
        for name, value in ns.items():
            if id(value) in ids:
                self.sites.append((ns, name, value))
        for obj in objects:
            for name, value in list(getattr(obj, "__dict__", {}).items()):
                if id(value) in ids:
                    self.sites.append((obj, name, value))
        self.calls = 0
        self.depth = 0

    def _wrap(self, original, identity: bool):
        def dropout(*args, **kwargs):
            if self.depth:  # called by another dropout function: not counted twice
                return original(*args, **kwargs)
            self.calls += 1
            if identity:
                return args[0] if args else kwargs.get("x", kwargs.get("inputs", kwargs.get("input")))
            self.depth += 1
            try:
                return original(*args, **kwargs)
            finally:
                self.depth -= 1

        return dropout

    def run(self, fn, identity: bool):
        wrappers = {}
        for where, attr, original in self.sites:
            wrapper = wrappers.setdefault(id(original), self._wrap(original, identity))
            if isinstance(where, dict):
                where[attr] = wrapper
            else:
                setattr(where, attr, wrapper)
        self.calls = 0
        try:
            return fn()
        finally:
            for where, attr, original in self.sites:
                if isinstance(where, dict):
                    where[attr] = original
                else:
                    setattr(where, attr, original)


def _flat(probe, out):
    np = probe.np
    parts = [np.asarray(t, dtype="float64").ravel() for t in probe.tf.nest.flatten(out) if t is not None]
    if not parts:
        raise ValueError("the layer returned no tensor")
    return np.concatenate(parts)


def confirm(job: dict, probe) -> object:
    from kerascheck.confirm import CouldNotBuild
    from kerascheck.confirm.probe import describe

    np, tf = probe.np, probe.tf
    ns = probe.namespace(job)
    path = job.get("path", "<slice>")
    for d in job.get("defs", []):
        exec(compile("\n" * (d["line"] - 1) + d["source"], path, "exec"), ns)  # noqa: S102
    errors = []
    first = probe.eval(job["make"], ns)
    coded = [(tuple(4 if d is None else d for d in shape), where)
             for shape, where in shapes.realise(job.get("plans") or [], probe, ns, first)
             if not where.startswith("default")]
    for shape, where in [*coded, *((tuple(s), "") for s in job["shapes"])]:
        probe.seed(0)
        obj = probe.eval(job["make"], ns)
        K = probe.keras_for(obj)
        if K is not probe.keras:
            probe.seed(0, K)
        rng = np.random.RandomState(0)
        xs = [tf.constant(rng.normal(size=shape).astype("float32")) for _ in range(job["inputs"])]
        kwargs = {"training": False}
        if job.get("mask"):
            kwargs["mask"] = tf.ones(shape[:-1], dtype=tf.bool)
        objects = [obj, *obj._flatten_layers()] if hasattr(obj, "_flatten_layers") else [obj]
        patch = _Patch(probe, ns, objects)

        def run(obj=obj, xs=xs, kwargs=kwargs):
            return _flat(probe, obj(*xs, **kwargs))

        try:
            written = patch.run(run, identity=False)  # builds the weights on the first call
        except Exception as exc:  # noqa: BLE001 - the next shape may fit
            fatal(exc)
            errors.append(f"input {tuple(shape)}: {describe(exc, path)}")
            continue
        break
    else:
        raise CouldNotBuild("no synthetic input shape fits: " + errors[0])
    again = patch.run(run, identity=False)
    ran = patch.calls  # counted on the second run: the first may also trace the call to build
    identity = patch.run(run, identity=True)
    identity2 = patch.run(run, identity=True)
    if identity.shape != written.shape:
        raise CouldNotBuild("the output changes shape when dropout is replaced by identity")
    if not np.allclose(identity, identity2, rtol=1e-4, atol=1e-6, equal_nan=True):
        raise CouldNotBuild("the output is random even with every dropout function replaced by identity: "
                            "something else in the code is random")
    differ = float(np.mean(~np.isclose(written, identity, rtol=1e-4, atol=1e-6, equal_nan=True)))
    zeros, zeros_id = float(np.mean(written == 0)), float(np.mean(identity == 0))
    stochastic = not np.array_equal(written, again)
    ok = differ > DIFF_THRESHOLD
    evidence = (f"{job['what']} called with training=False on N(0,1) input {tuple(shape)}"
                f"{f' (the shape {where})' if where else ''}"
                f"{' x' + str(job['inputs']) if job['inputs'] > 1 else ''}: dropout ran {ran}x; "
                f"{differ:.1%} of output values differ from the run with dropout replaced by identity "
                f"({'>' if ok else '<='} {DIFF_THRESHOLD:.0%}); zeros {zeros:.1%} vs {zeros_id:.1%}; "
                f"two runs as written {'differ' if stochastic else 'are identical'}")
    return probe.confirmed(evidence) if ok else probe.not_reproduced(evidence)
