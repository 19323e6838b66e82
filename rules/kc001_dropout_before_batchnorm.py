"""Dropout layer feeding a BatchNormalization layer.

## What it does
Flags a Keras `BatchNormalization` layer whose input comes from a `Dropout`,
`SpatialDropout1D/2D/3D` or `GaussianDropout` layer, directly or through
layers that keep the shift (ReLU, LeakyReLU, `Activation("relu")`, Flatten,
Reshape, Permute, max and average pooling), whichever syntax connects them:
a `Sequential` list, `model.add` calls, a functional chain or the sublayers of
a subclassed layer applied in `call()`.

## Why is this bad?
During training, dropout zeroes units and scales the survivors by
1/(1-rate), and BatchNormalization learns its moving mean and variance from
those dropped-out activations. At inference dropout is the identity, so BN
normalizes inputs whose variance no longer matches its statistics: measured
with TF 2.21 / Keras 3.15, BN's moving variance is 2.4x the variance it sees
at inference after `Dropout(0.5)` on ReLU features (1.1x at rate 0.1), and
the BN output's standard deviation at predict is 0.62 instead of ~1. The
statistics are wrong; the effect on accuracy depends on the model.

Not flagged: BN then Dropout; Dropout then Dense/Conv then BN (the usual
block; the shift is smaller and flagging it would cry wolf); Layer- and
GroupNormalization (no moving statistics); a rate that is a literal 0;
`GaussianNoise` and `AlphaDropout` (their shift depends on the activation
scale); dropout applied with `training=True` inside a subclassed layer's
`call()` or in legacy Keras 2 (`tf_keras`), where it stays on at inference
(Monte-Carlo dropout). In a Keras 3 functional model `Dropout(r)(x,
training=True)` is *not* Monte-Carlo: `predict()` runs the graph with
training=False and drops nothing (measured: 0 % zeros at predict, 50 % from
`model(x)`; tests/measurements/kc001_functional_training_true.py), so BN's
statistics are shifted there too and it is flagged.

## Example
    model = keras.Sequential([
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.BatchNormalization(),
    ])

## Use instead
    model = keras.Sequential([
        layers.Dense(128, activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.5),
    ])

## Confirm mode
`--confirm` builds a ReLU producer (Dense(32), or Conv1D/2D/3D(8) when the layers need rank
3-5) followed by the flagged layers, from the dropout through the BN, constructed from their own
source; trains 16 steps and runs 500 training-mode passes on N(0, 1) data (seed 0), then compares
BN's moving variance with the variance of its input at `training=False`. `confirmed` when the
ratio exceeds 1.05: measured 1.15 (Dropout(0.1)) to 2.42 on the positive fixtures, 0.98 on every
clean look-alike (BN before dropout, rate 0).
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from kerascheck.picture import Apply, Picture, literal_number, literal_string
from kerascheck.rule import Hit

CODE, NAME = "KC001", "dropout-before-batchnorm"
SEVERITY = "warning"
MESSAGE = ("{src} (line {src_line}) feeds {dst}{through}: BN learns its moving variance on dropped-out "
           "activations, so at inference it normalizes with statistics that do not match its input")
NEEDS = ((b"BatchNormalization", b"Dropout"),)
KEEP = ("BatchNormalization", "Dropout", "Sequential")

# Canonical names only; each set has a measurement in KERAS_FACTS.md behind it.
DROPOUTS = frozenset({  # F1.2, F1.4 (SpatialDropout3D: the 3-D form of SpatialDropout2D)
    "keras.layers.Dropout", "keras.layers.SpatialDropout1D", "keras.layers.SpatialDropout2D",
    "keras.layers.SpatialDropout3D", "keras.layers.GaussianDropout",
})
BATCHNORMS = frozenset({"keras.layers.BatchNormalization", "keras.layers.SyncBatchNormalization"})  # F1.12
# Layers that keep the shift when they stand between the dropout and BN (F1.7, F1.9).
LOOK_THROUGH = frozenset({
    "keras.layers.LeakyReLU", "keras.layers.Flatten", "keras.layers.Reshape", "keras.layers.Permute",
    "keras.layers.MaxPooling1D", "keras.layers.MaxPooling2D", "keras.layers.MaxPooling3D",
    "keras.layers.MaxPool1D", "keras.layers.MaxPool2D", "keras.layers.MaxPool3D",
    "keras.layers.AveragePooling1D", "keras.layers.AveragePooling2D", "keras.layers.AveragePooling3D",
    "keras.layers.AvgPool1D", "keras.layers.AvgPool2D", "keras.layers.AvgPool3D",
    "keras.layers.GlobalAveragePooling1D", "keras.layers.GlobalAveragePooling2D",
    "keras.layers.GlobalAveragePooling3D", "keras.layers.GlobalAvgPool1D",
    "keras.layers.GlobalAvgPool2D", "keras.layers.GlobalAvgPool3D",
})
RELU_FUNCTIONS = frozenset({"keras.activations.relu", "tensorflow.nn.relu", "keras.ops.relu"})
MAX_DEPTH = 8

VALID = [
    # BN before dropout: the right order.
    "from keras import layers\nx = layers.Dropout(0.5)(layers.BatchNormalization()(x))\n",
    # Not Keras's BatchNormalization.
    "from keras import layers\nfrom mylib import BatchNormalization\n"
    "x = BatchNormalization()(layers.Dropout(0.5)(x))\n",
    # A weight layer in between.
    "import tensorflow as tf\nL = tf.keras.layers\n"
    "m = tf.keras.Sequential([L.Dropout(0.3), L.Dense(8), L.BatchNormalization()])\n",
    # A literal rate of 0 drops nothing.
    "from keras import layers\nx = layers.BatchNormalization()(layers.Dropout(0.0)(x))\n",
    # LayerNormalization keeps no moving statistics.
    "from keras import layers\nx = layers.LayerNormalization()(layers.Dropout(0.5)(x))\n",
]
INVALID = [
    "import tensorflow as tf\n"
    "x = tf.keras.layers.Dropout(0.2)(x)\n"
    "x = tf.keras.layers.BatchNormalization()(x)  # expect: KC001\n",
    "from keras.layers import Dropout as Drop, BatchNormalization, ReLU\n"
    "import keras\n"
    "model = keras.Sequential()\n"
    "model.add(Drop(0.5))\n"
    "model.add(ReLU())\n"
    "model.add(BatchNormalization())  # expect: KC001\n",
]


def _is_true(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "True"


def _is_literal_bool(expr: cst.BaseExpression | None) -> bool:
    return isinstance(expr, cst.Name) and expr.value in ("True", "False")


def _drops(app: Apply) -> bool:
    layer = app.layer
    if layer.name not in DROPOUTS:
        return False
    rate = literal_number(layer.arg("rate", 0))
    if rate is not None and rate == 0:
        return False
    # Monte-Carlo dropout (`training=True`) is on at inference too, so BN sees the same statistics:
    # inside a subclass's call() (F2.9) and in legacy Keras 2. Not in a Keras 3 functional or
    # Sequential graph: predict() runs it with training=False anyway (measured, TF 2.21 / Keras
    # 3.15: 0 % zeros at predict vs 50 % from model(x); tf_keras: 49 % at predict).
    if _is_true(app.kwarg("training")):
        return app.via != "subclass" and app.layer.canon.flavor in ("keras", "tf.keras")
    return True


def _keeps_shift(pic: Picture, app: Apply) -> bool:
    layer = app.layer
    if layer.name in LOOK_THROUGH:
        return True
    if layer.name == "keras.layers.ReLU":
        # ReLU(max_value=6) saturates, like tanh: the shift shrinks (F1.8).
        return layer.arg("max_value", 0) is None or _is_none(layer.arg("max_value", 0))
    if layer.name == "keras.layers.Activation":
        act = layer.arg("activation", 0)
        name = literal_string(act)
        if name is not None:
            return name in ("relu", "leaky_relu")
        if act is not None:
            canon = pic.resolve(act, layer.ctx.scope)
            return canon is not None and canon.name in RELU_FUNCTIONS
    return False


def _is_none(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def _feeding_dropouts(pic: Picture, app: Apply) -> Iterator[tuple[Apply, tuple[Apply, ...]]]:
    """Dropout applications reaching `app`, with the look-through layers between."""
    stack = [(p, ()) for p in pic.producers(app)]
    seen: set[int] = set()
    while stack:
        producer, between = stack.pop()
        if id(producer) in seen or len(between) > MAX_DEPTH:
            continue
        seen.add(id(producer))
        if _drops(producer):
            yield producer, between
        elif _keeps_shift(pic, producer):
            stack.extend((p, (*between, producer)) for p in pic.producers(producer))


def check(pic: Picture) -> Iterator[Hit]:
    reported: set[tuple[int, int]] = set()
    for app in pic.applies:
        if app.layer.name not in BATCHNORMS or _is_literal_bool(app.kwarg("training")):
            # training=True: batch statistics always; training=False: its moving statistics
            # are frozen and never learned from the dropped-out activations.
            continue
        for drop, between in _feeding_dropouts(pic, app):
            key = (id(app.layer.node), id(drop.layer.node))
            if key in reported:
                continue
            reported.add(key)
            through = ""
            if between:
                through = " through " + ", ".join(b.layer.short for b in reversed(between))
            yield Hit(app.layer.node, fmt={"src": drop.layer.short, "dst": app.layer.short, "through": through},
                      related={"src": drop.layer.node},
                      data={"src": drop, "dst": app, "between": tuple(reversed(between))})


# ------------------------------------------------------------------ confirm mode
# What is built: Input -> a ReLU producer -> the flagged layers, from the dropout through the BN,
# constructed from their own source in the file's slice -> Flatten -> Dense(1). Everything upstream of
# the dropout is replaced by the producer (Dense(32, relu), or Conv1D/2D/3D(8, relu) when the chain
# needs rank 3/4/5: SpatialDropoutND, poolingND, Permute, or a Reshape target), on N(0, 1) inputs.
# Measured as in KERAS_FACTS KC001: fit() 16 steps, 500 training-mode passes so the moving
# statistics settle, then ratio = mean over channels of BN moving_variance / variance of BN's input
# at training=False. Threshold 1.05, from measurements with this recipe (seed 0): positives
# Dropout(0.5) 2.4, Dropout(0.2) ~1.3, Dropout(0.1) ~1.1 (F1.3: 1.12); clean BN -> Dropout,
# Dropout(0.0) -> BN, BN -> ReLU -> Dropout: 0.98 (F1.2: 0.97, 0.99). Measured on the fixtures:
# positives 1.15 (Dropout(0.1)) to 2.42, every clean look-alike 0.98.
RATIO_THRESHOLD = 1.05
FIT_STEPS, SETTLE_PASSES, SAMPLES, BATCH = 16, 500, 256, 32
NORMALIZERS = frozenset({"keras.layers.LayerNormalization", "keras.layers.GroupNormalization"})


def _training_kwarg(pic: Picture, app: Apply) -> str | None:
    expr = app.kwarg("training")
    return expr.value if _is_literal_bool(expr) else None


def _chain_job(pic: Picture, text: str, chain: tuple[Apply, ...], measure: int) -> dict:
    from kerascheck.confirm.slice import Slicer

    slicer = Slicer(pic, text)
    return slicer.job(
        chain=[slicer.expr(a.layer.node, a.layer.ctx) for a in chain],
        training=[_training_kwarg(pic, a) for a in chain],
        measure=measure,
    )


def confirm_job(hit: Hit, pic: Picture, text: str) -> dict:
    chain = (hit.data["src"], *hit.data.get("between", ()), hit.data["dst"])
    return _chain_job(pic, text, chain, len(chain) - 1)


def confirm_lookalikes(pic: Picture, text: str) -> Iterator[dict]:
    """Clean code next to the bad pattern, for the tests: the recipe must say `not reproduced`.

    BN then (ReLU/Flatten/...) dropout; Dropout(0) -> BN; dropout -> Layer/GroupNormalization.
    Not tanh/ReLU6 chains, GaussianNoise, AlphaDropout or frozen BN: there the shift depends on
    what the recipe replaces (F1.5, F1.6, F1.8). Not `Dropout()(x, training=True)` in a functional
    model either: measured with this recipe, Keras 3 overrides that flag with predict()'s
    training=False, so the shift is there (ratio 2.41) and the dropout is not Monte-Carlo.
    """
    for app in pic.applies:
        name = app.layer.name
        if name in DROPOUTS:
            chain, measure = [app], None
            stack = [(p, ()) for p in pic.producers(app)]
            for producer, between in stack:  # BN -> [look-through] -> dropout
                if producer.layer.name in BATCHNORMS and not _is_literal_bool(producer.kwarg("training")):
                    chain, measure = [producer, *reversed(between), app], 0
                    break
                if _keeps_shift(pic, producer) and len(between) < MAX_DEPTH:
                    stack.extend((p, (*between, producer)) for p in pic.producers(producer))
            if measure is not None:
                yield _chain_job(pic, text, tuple(chain), measure)
        elif name in BATCHNORMS or name in NORMALIZERS:
            if _is_literal_bool(app.kwarg("training")):
                continue
            for producer in pic.producers(app):
                if producer.layer.name not in DROPOUTS:
                    continue
                rate = literal_number(producer.layer.arg("rate", 0))
                if name in NORMALIZERS or rate == 0:
                    yield _chain_job(pic, text, (producer, app), 1)


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


def confirm(job: dict, probe) -> object:
    from kerascheck.confirm import CouldNotBuild

    np, tf = probe.np, probe.tf
    ns = probe.namespace(job)
    sources, measure = job["chain"], job["measure"]
    training = job.get("training") or [None] * len(sources)
    first = [probe.eval(src, ns) for src in sources]
    K = probe.keras_for(first[measure])
    units = _reshape_units(first)
    errors = []
    for rank in _rank_needed(first):
        layers = [probe.eval(src, ns) for src in sources]  # fresh layers for each attempt
        probe.seed(0, K)
        shape, producer = _producer(K, rank, units)
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
            errors.append(f"input {shape}: {type(exc).__name__}: {exc}")
            continue
        break
    else:
        raise CouldNotBuild("no synthetic input shape fits the chain; " + errors[0])
    norm = layers[measure]
    if not hasattr(norm, "moving_variance"):
        return probe.not_reproduced(f"{type(norm).__name__} keeps no moving statistics (F1.12): nothing to shift")
    rng = np.random.RandomState(0)
    x = rng.normal(size=(SAMPLES, *shape)).astype("float32")
    y = x.reshape(SAMPLES, -1)[:, :4].sum(axis=1, keepdims=True).astype("float32")
    batches = SAMPLES // BATCH
    xs = tf.constant(x.reshape(batches, BATCH, *shape))
    ys = tf.constant(y.reshape(batches, BATCH, 1))
    optimizer = K.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)

    @tf.function
    def train_then_settle(fit_steps, passes):
        # One graph: the training steps (like fit() with Adam and MSE), then training-mode passes
        # that change no weight and let BN's moving statistics settle (momentum 0.99: 0.99**500 < 1%).
        for i in tf.range(fit_steps):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(xs[i % batches], training=True) - ys[i % batches]))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        for i in tf.range(passes):
            model(xs[i % batches], training=True)

    train_then_settle(tf.constant(FIT_STEPS), tf.constant(SETTLE_PASSES))
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
                f"{type(producer).__name__}(relu) -> {names} on N(0,1) input {shape}, "
                f"{FIT_STEPS} fit steps + {SETTLE_PASSES} training passes")
    if ratio > RATIO_THRESHOLD:
        return probe.confirmed(evidence)
    return probe.not_reproduced(evidence)
