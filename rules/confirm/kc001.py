"""Confirm-mode recipe for KC001 dropout-before-batchnorm (see the rule's docs, "Confirm mode")."""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.confirm import shapes
from kerascheck.confirm.probe import fatal
from kerascheck.confirm.slice import Slicer
from kerascheck.confirm.target import keras_target
from kerascheck.rule import Apply, Context, Hit, literal_number
from kerascheck.rules.kc001_dropout_before_batchnorm import (
    BATCHNORMS,
    DROPOUTS,
    MAX_DEPTH,
    is_literal_bool,
    keeps_shift,
)

# What is built: Input -> a ReLU producer -> the flagged layers, from the dropout through the BN,
# constructed from their own source in the file's slice -> Flatten -> Dense(1). Everything upstream of
# the dropout is replaced by the producer, on N(0, 1) inputs: Dense(d, relu) for a dropout input of
# shape (None, d), ConvND(c, 3, same, relu) for (None, ..., c). The shape is the one the code gives
# the dropout (shapes.py: its Input(shape=...) and the layers between, rebuilt symbolically; an
# `input_shape=`; a `build()` call), shrunk to at most MAX_ELEMENTS values per sample; else the
# first of Dense(32) / Conv1D/2D/3D(8) that the chain accepts (SpatialDropoutND, poolingND, Permute
# and Reshape targets decide the rank). The evidence says which. Measured as in KERAS_FACTS KC001:
# 500 training-mode passes so the moving statistics settle, then ratio = mean over channels of BN
# moving_variance / variance of BN's input at training=False. Threshold 1.05, from measurements with
# this recipe (seed 0): positives Dropout(0.5) 2.4, Dropout(0.2) ~1.3, Dropout(0.1) ~1.1 (F1.3:
# 1.12); clean BN -> Dropout, Dropout(0.0) -> BN, BN -> ReLU -> Dropout: 0.98 (F1.2: 0.97, 0.99).
# The first version also ran 16 fit() steps first: they change the ratio by less than 0.01 and cost
# 0.7 s of graph tracing per finding, so they are gone (tests/measurements/kc001_confirm_fit.py).
RATIO_THRESHOLD = 1.05
SETTLE_PASSES, SAMPLES, BATCH = 500, 256, 32
MAX_ELEMENTS = 4096  # values per sample of the synthetic input
NORMALIZERS = frozenset({"keras.layers.LayerNormalization", "keras.layers.GroupNormalization"})


def _training_kwarg(app: Apply) -> str | None:
    expr = app.kwarg("training")
    return expr.value if is_literal_bool(expr) else None


def _chain_job(ctx: Context, chain: tuple[Apply, ...], measure: int) -> dict:
    slicer = Slicer(ctx.picture, ctx.text, ctx)
    sources = [slicer.expr(a.layer.node, a.layer.site) for a in chain]
    plans = shapes.plans(ctx, slicer, chain[0].layer, chain[0])
    return slicer.job(
        chain=sources,
        training=[_training_kwarg(a) for a in chain],
        measure=measure,
        shapes=plans,
        **keras_target(ctx, [a.layer.canon.flavor for a in chain]),
    )


def job(hit: Hit, ctx: Context, index=None) -> dict:
    chain = (hit.data["src"], *hit.data.get("between", ()), hit.data["dst"])
    return _chain_job(ctx, chain, len(chain) - 1)


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Clean code next to the bad pattern, for the tests: the recipe must say `not reproduced`.

    BN then (ReLU/Flatten/...) dropout; Dropout(0) -> BN; dropout -> Layer/GroupNormalization.
    Not tanh/ReLU6 chains, GaussianNoise, AlphaDropout or frozen BN: there the shift depends on
    what the recipe replaces (F1.5, F1.6, F1.8). Not `Dropout()(x, training=True)` in a functional
    model either: measured with this recipe, Keras 3 overrides that flag with predict()'s
    training=False, so the shift is there (ratio 2.41) and the dropout is not Monte-Carlo.
    """
    pic = ctx.picture
    for app in pic.applies:
        name = app.layer.name
        if name in DROPOUTS:
            chain, measure = [app], None
            stack = [(p, ()) for p in pic.producers(app)]
            for producer, between in stack:  # BN -> [look-through] -> dropout
                if producer.layer.name in BATCHNORMS and not is_literal_bool(producer.kwarg("training")):
                    chain, measure = [producer, *reversed(between), app], 0
                    break
                if keeps_shift(ctx, producer) and len(between) < MAX_DEPTH:
                    stack.extend((p, (*between, producer)) for p in pic.producers(producer))
            if measure is not None:
                yield _chain_job(ctx, tuple(chain), measure)
        elif name in BATCHNORMS or name in NORMALIZERS:
            if is_literal_bool(app.kwarg("training")):
                continue
            for producer in pic.producers(app):
                if producer.layer.name not in DROPOUTS:
                    continue
                rate = literal_number(producer.layer.arg("rate", 0))
                if name in NORMALIZERS or rate == 0:
                    yield _chain_job(ctx, (producer, app), 1)


def _rank_needed(layers) -> list[int]:
    """Candidate input ranks for the chain, most likely first."""
    ranks: list[int] = []
    for layer in layers:
        cls = type(layer).__name__
        for n in (1, 2, 3):
            if cls.endswith((f"{n}D",)) and ("Dropout" in cls or "Pool" in cls):
                ranks.append(n + 2)
        if cls == "Permute":
            ranks.append(len(tuple(layer.dims)) + 1)
    return ranks[:1] if ranks else [2, 3, 4]


def _reshape_units(layers) -> int | None:
    for layer in layers:
        if type(layer).__name__ == "Reshape":
            size = 1
            for d in tuple(getattr(layer, "target_shape", ()) or ()):
                if d is None or d < 0:
                    return None
                size *= int(d)
            return size if 0 < size <= 4096 else None
    return None


def _producer(K, rank: int, units: int | None):
    if rank == 2:
        return (units or 32,), K.layers.Dense(units or 32, activation="relu")
    conv = {3: K.layers.Conv1D, 4: K.layers.Conv2D, 5: K.layers.Conv3D}[rank]
    shape = {3: (12, 4), 4: (8, 8, 3), 5: (4, 4, 4, 2)}[rank]
    return shape, conv(8, 3, padding="same", activation="relu")


def _fit(shape: tuple) -> tuple | None:
    """`shape` (no batch), shrunk to at most MAX_ELEMENTS values: spatial sides first, then channels."""
    dims = list(shape)
    while dims and _size(dims) > MAX_ELEMENTS:
        widest = max(range(len(dims)), key=lambda i: (dims[i] if i < len(dims) - 1 else dims[i] // 8, -i))
        if dims[widest] <= 2:
            return None
        dims[widest] = max(2, dims[widest] // 2)
    return tuple(dims)


def _size(dims) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def _coded_producers(K, candidates: list[tuple[tuple, str]]):
    """(input shape, producer, note) for the shapes the code gives the dropout: a producer whose output
    has that shape (Dense(d) for rank 2, ConvND(c, same) for rank 3-5)."""
    for shape, where in candidates:
        dims = tuple(shape[1:])
        if not 1 <= len(dims) <= 4 or where.startswith("default"):
            continue
        fitted = _fit(dims)
        if fitted is None:
            continue
        note = f"{where}{'' if fitted == dims else f', shrunk from {dims}'}"
        if len(fitted) == 1:
            yield fitted, K.layers.Dense(fitted[0], activation="relu"), note
        else:
            conv = {2: K.layers.Conv1D, 3: K.layers.Conv2D, 4: K.layers.Conv3D}[len(fitted)]
            yield fitted, conv(fitted[-1], 3, padding="same", activation="relu"), note


def confirm(job: dict, probe) -> object:
    from kerascheck.confirm import CouldNotBuild

    np, tf = probe.np, probe.tf
    ns = probe.namespace(job)
    sources, measure = job["chain"], job["measure"]
    training = job.get("training") or [None] * len(sources)
    first = [probe.eval(src, ns) for src in sources]
    K = probe.keras_for(first[measure])
    coded = shapes.realise(job.get("shapes") or [], probe, ns, first[0])
    units = _reshape_units(first)
    attempts = [(shape, producer, note) for shape, producer, note in _coded_producers(K, coded)]
    attempts += [(*_producer(K, rank, units), "synthetic") for rank in _rank_needed(first)]
    errors = []
    for shape, producer, note in attempts:
        layers = [probe.eval(src, ns) for src in sources]  # fresh layers for each attempt
        probe.seed(0, K)
        try:
            inp = K.Input(shape=shape)
            h = producer(inp)
            before = None
            for i, (layer, flag) in enumerate(zip(layers, training)):
                if i == measure:
                    before = h
                h = layer(h, training=(flag == "True")) if flag is not None else layer(h)
            if len(h.shape) > 2:
                h = K.layers.Flatten()(h)
            model = K.Model(inp, K.layers.Dense(1)(h))
        except Exception as exc:  # noqa: BLE001 - the next candidate shape may build
            fatal(exc)
            errors.append(f"input {shape}: {type(exc).__name__}: {exc}")
            continue
        break
    else:
        raise CouldNotBuild("no input shape fits the chain; " + errors[0])
    norm = layers[measure]
    if not hasattr(norm, "moving_variance"):
        return probe.not_reproduced(f"{type(norm).__name__} keeps no moving statistics (F1.12): nothing to shift")
    rng = np.random.RandomState(0)
    x = rng.normal(size=(SAMPLES, *shape)).astype("float32")
    batches = SAMPLES // BATCH
    xs = tf.constant(x.reshape(batches, BATCH, *shape))

    @tf.function
    def settle(passes):
        # Training-mode passes that change no weight and let BN's moving statistics settle
        # (momentum 0.99: 0.99**500 < 1%).
        for i in tf.range(passes):
            model(xs[i % batches], training=True)

    settle(tf.constant(SETTLE_PASSES))
    probe_model = K.Model(inp, before)
    inference = np.asarray(probe_model(x, training=False))
    axis = norm.axis if isinstance(norm.axis, int) else list(norm.axis)[0]
    axis %= inference.ndim
    axes = tuple(a for a in range(inference.ndim) if a != axis)
    v_inf = inference.var(axis=axes)
    moving = np.asarray(norm.moving_variance)
    keep = v_inf > 1e-6  # dead ReLU channels
    if not keep.any():
        raise CouldNotBuild("BN's input is constant at inference on the synthetic data")
    ratio = float(np.mean(moving[keep] / v_inf[keep]))
    names = " -> ".join(type(layer).__name__ for layer in layers)
    evidence = (f"BN moving variance / variance of its input at inference = {ratio:.2f} "
                f"({'>' if ratio > RATIO_THRESHOLD else '<='} {RATIO_THRESHOLD}; 1.0 = no shift) for "
                f"{type(producer).__name__}(relu) -> {names} on N(0,1) input {shape}"
                f"{'' if note == 'synthetic' else f' (the input shape {note})'}, {SETTLE_PASSES} training passes")
    if ratio > RATIO_THRESHOLD:
        return probe.confirmed(evidence)
    return probe.not_reproduced(evidence)
