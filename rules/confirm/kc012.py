"""Confirm-mode recipe for KC012 bias-before-batchnorm (see the rule's docs, "Confirm mode").

What is built: Input -> the flagged layer -> the layers between it and the normalization ->
the normalization, each constructed from its own source in the file's slice -> Flatten (when
the rank is above 2) -> Dense(1). The input shape is the first of the candidates for the flagged
layer's kind that builds the chain: Dense (8,), (8, 8), (4, 4, 8); 1D convolutions (16, 3);
2D (8, 8, 3); 3D (6, 6, 6, 3). The bias gets random N(0, 1) values (seed 0), so a zero bias does
not hide its effect, and the gradient of a mean-squared error against random targets on 64
random inputs is taken in training mode. Measured: the bias's gradient norm over the kernel's is
about 1e-7 when BN cancels it (N10.1: 2.4e-8 / 0.28, 1.1e-7 / 0.17), and 0.1 or more with an
activation in between or a per-sample normalization (N10.2). THRESHOLD 1e-4.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.confirm.slice import Slicer
from kerascheck.confirm.target import keras_target
from kerascheck.rule import Apply, Context, Hit, cst
from kerascheck.rules.kc012_bias_before_batchnorm import (
    PRODUCERS,
    _channels,
    _keeps_channels,
    _linear,
    _normalizes_batches,
)

THRESHOLD = 1e-4
SAMPLES = 64
NORMALIZERS = frozenset({"keras.layers.BatchNormalization", "keras.layers.SyncBatchNormalization",
                         "keras.layers.LayerNormalization", "keras.layers.GroupNormalization"})
BETWEEN = frozenset({"keras.layers.ReLU", "keras.layers.Activation", "keras.layers.LeakyReLU", "keras.layers.Dropout",
                     "keras.layers.Flatten", "keras.layers.Reshape"})


def _chain_job(ctx: Context, chain: tuple[Apply, ...]) -> dict:
    slicer = Slicer(ctx.picture, ctx.text, ctx)
    return slicer.job(chain=[slicer.expr(a.layer.node, a.layer.site) for a in chain],
                      **keras_target(ctx, [a.layer.canon.flavor for a in chain]))


def job(hit: Hit, ctx: Context, index=None) -> dict:
    return _chain_job(ctx, (hit.data["weight"], *hit.data["between"], hit.data["bn"]))


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Normalizations fed by a layer with a bias where the chain itself keeps the bias alive, for
    the tests: an activation in the layer or after it, a dropout between, a per-sample
    normalization, BN on another axis, a Reshape that moves the channels. (Not the chains the rule
    leaves alone for a reason outside them, e.g. the output also feeds a skip connection: there
    the chain alone does cancel the bias.) Not frozen BNs (`trainable=False`, `training=False`):
    the recipe's gradient is in training mode; nor channels_first convolutions (no CPU kernel)."""
    pic = ctx.picture
    for app in pic.applies:
        layer = app.layer
        if layer.name not in NORMALIZERS or layer.arg("trainable") is not None or app.kwarg("training") is not None:
            continue
        stack = [(p, ()) for p in pic.producers(app)]
        while stack:
            producer, between = stack.pop()
            name = producer.layer.name
            if name in BETWEEN and len(between) < 2:
                stack.extend((p, (producer, *between)) for p in pic.producers(producer))
            elif name in PRODUCERS and _biased(producer.layer) and producer.layer.arg("data_format") is None:
                if _alive(ctx, producer.layer, between, app):
                    yield _chain_job(ctx, (producer, *between, app))


def _alive(ctx: Context, weight, between: tuple[Apply, ...], norm: Apply) -> bool:
    """Does something in the chain itself keep the bias from cancelling?"""
    if not _normalizes_batches(norm) or not _linear(ctx, weight):
        return True
    for b in between:
        if b.layer.name not in ("keras.layers.Flatten", "keras.layers.Reshape"):
            return True
        if b.layer.name == "keras.layers.Reshape" and not _keeps_channels(b.layer, _channels(weight)):
            return True
    return False


def _biased(layer) -> bool:
    """The layer provably has a bias (whatever its activation)."""
    use_bias = layer.arg("use_bias")
    return (not layer.opaque and (use_bias is None or (isinstance(use_bias, cst.Name) and use_bias.value == "True"))
            and sum(1 for a in layer.node.args if a.keyword is None) <= PRODUCERS[layer.name])


# -- the child side (TensorFlow imported) --------------------------------------------------


def _candidates(layer) -> list[tuple]:
    name = type(layer).__name__
    for n, shape in (("1D", (16, 3)), ("2D", (8, 8, 3)), ("3D", (6, 6, 6, 3))):
        if n in name:
            return [shape]
    return [(8,), (8, 8), (4, 4, 8)]


def _kernels(layer) -> list:
    bias = layer.bias
    return [v for v in layer.trainable_weights if v is not bias]


def confirm(job: dict, probe) -> object:
    from kerascheck.confirm import CouldNotBuild

    np, tf = probe.np, probe.tf
    ns = probe.namespace(job)
    first = probe.eval(job["chain"][0], ns)
    K = probe.keras_for(first)
    errors = []
    for shape in _candidates(first):
        layers = [probe.eval(src, ns) for src in job["chain"]]  # fresh layers per attempt
        probe.seed(0, K)
        try:
            inp = K.Input(shape=shape)
            h = inp
            for layer in layers:
                h = layer(h)
            if len(h.shape) > 2:
                h = K.layers.Flatten()(h)
            model = K.Model(inp, K.layers.Dense(1)(h))
        except Exception as exc:  # noqa: BLE001 - the next candidate shape may build
            errors.append(f"input {shape}: {type(exc).__name__}: {exc}")
            continue
        break
    else:
        raise CouldNotBuild("no synthetic input shape builds the chain; " + errors[0])
    weight = layers[0]
    if getattr(weight, "bias", None) is None:
        return probe.not_reproduced(f"{type(weight).__name__} has no bias")
    rng = np.random.RandomState(0)
    weight.bias.assign(rng.normal(size=tuple(weight.bias.shape)).astype("float32"))
    x = tf.constant(rng.normal(size=(SAMPLES, *shape)).astype("float32"))
    y = tf.constant(rng.normal(size=(SAMPLES, 1)).astype("float32"))
    kernels = _kernels(weight)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
    grads = tape.gradient(loss, [weight.bias, *kernels])
    if grads[0] is None or any(g is None for g in grads[1:]):
        raise CouldNotBuild("no gradient reaches the layer's weights")
    bias_norm = float(np.linalg.norm(np.asarray(grads[0])))
    kernel_norm = float(np.sqrt(sum(float(np.sum(np.square(np.asarray(g)))) for g in grads[1:])))
    if kernel_norm == 0:
        raise CouldNotBuild("the kernel gets no gradient on the synthetic data")
    ratio = bias_norm / kernel_norm
    names = " -> ".join(type(layer).__name__ for layer in layers)
    evidence = (f"|grad bias| / |grad kernel| = {bias_norm:.1e} / {kernel_norm:.1e} = {ratio:.1e} "
                f"({'<' if ratio < THRESHOLD else '>='} {THRESHOLD:g}) for {names} -> Dense(1) on input {shape}, "
                f"random bias, MSE on random targets in training mode")
    if ratio < THRESHOLD:
        return probe.confirmed(evidence + ": the normalization cancels the bias")
    return probe.not_reproduced(evidence + ": the bias changes the output")
