"""Confirm-mode recipe for KC009 torch-style-bn-momentum (see the rule's docs, "Confirm mode").

What is built: the flagged BatchNormalization from its own constructor source (for the
`tf.compat.v1.layers` function, a Keras `BatchNormalization` with the flagged momentum), and a
copy of it from its config with the flagged momentum set to 0.99. Both start with their moving
statistics at the data's true mean and variance (3, 4) and see the same STEPS training-mode
batches of BATCH x CHANNELS values drawn from N(3, 2^2) (seed 0). The jitter of the moving mean
(`renorm_mean` for `renorm_momentum`) is its standard deviation over the last WINDOW steps,
averaged over channels, taken as a share of one batch's own noise (the standard deviation of
the batch means). Theory for an exponential average of i.i.d. batch means:
sqrt((1 - m) / (1 + m)), that is 0.90 at momentum 0.1, 0.65 at 0.4, 0.58 at 0.5, 0.33 at 0.8,
0.23 at 0.9, 0.07 at 0.99; measured with this recipe 0.90 at 0.1, 0.66 at 0.4, 0.24 at 0.9, 0.05
at 0.99. THRESHOLD 0.45 sits between the flagged range (below 0.5) and the look-alikes (0.8 and
above). The jitter at 0.99 is measured too and reported beside it, not used for the verdict:
there the average spans ~100 steps and a 300-step window underestimates it.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.confirm.slice import Slicer
from kerascheck.confirm.target import keras_target
from kerascheck.rule import Context, Hit, literal_number
from kerascheck.rules.kc009_torch_style_bn_momentum import BATCHNORMS

STEPS, WINDOW, BATCH, CHANNELS = 400, 300, 32, 4
MEAN, STD = 3.0, 2.0
REFERENCE = 0.99
THRESHOLD = 0.45  # jitter of the moving mean / one batch's noise
LOOKALIKE_MIN = 0.8  # momenta the look-alikes use: clearly Keras's convention


def _layer_job(ctx: Context, layer, keyword: str) -> dict:
    slicer = Slicer(ctx.picture, ctx.text, ctx)
    return slicer.job(kind="layer", layer=slicer.expr(layer.node, layer.site), keyword=keyword,
                      **keras_target(ctx, [layer.canon.flavor]))


def job(hit: Hit, ctx: Context, index=None) -> dict:
    if "layer" in hit.data:
        return _layer_job(ctx, hit.data["layer"], hit.data["keyword"])
    slicer = Slicer(ctx.picture, ctx.text, ctx)
    return slicer.job(kind="value", momentum=slicer.expr(hit.node), keyword="momentum", **keras_target(ctx, []))


def lookalikes(ctx: Context, index=None) -> Iterator[dict]:
    """Keras BatchNormalization layers whose literal momentum is LOOKALIKE_MIN or more (0.9,
    0.99, 0.999): the rule leaves them alone and the recipe must not confirm them."""
    for layer in ctx.picture.layers:
        if layer.name not in BATCHNORMS:
            continue
        value = literal_number(layer.arg("momentum", 1))
        if value is not None and LOOKALIKE_MIN <= value < 1:
            yield _layer_job(ctx, layer, "momentum")


# -- the child side (TensorFlow imported) --------------------------------------------------


def _fresh(cls, config: dict, keyword: str, value: float):
    config = {**config, keyword: value}
    config.pop("name", None)
    return cls.from_config(config)


def _axis(layer) -> int:
    axis = layer.axis
    if isinstance(axis, (list, tuple)):
        axis = axis[0] if len(axis) == 1 else -1
    return int(axis)


def _jitter(layer, keyword: str, data, probe) -> tuple[float, float]:
    """(std of the tracked moving mean over the last WINDOW steps, std of the batch means)."""
    np, tf = probe.np, probe.tf
    layer.build((None, *data.shape[2:]))
    tracked = layer.renorm_mean if keyword == "renorm_momentum" else layer.moving_mean
    tracked.assign(np.full(tracked.shape, MEAN, "float32"))
    layer.moving_variance.assign(np.full(layer.moving_variance.shape, STD ** 2, "float32"))
    for name, value in (("renorm_stddev", STD), ("moving_stddev", STD)):
        var = getattr(layer, name, None)
        if var is not None and hasattr(var, "assign"):
            var.assign(np.full(var.shape, value, "float32"))
    step = tf.function(lambda x: layer(x, training=True))
    values = []
    for batch in data:
        step(tf.constant(batch))
        values.append(np.asarray(tracked).copy())
    values = np.array(values[-WINDOW:])
    means = data.mean(axis=tuple(range(1, data.ndim - 1)))  # per step and channel
    return float(values.std(axis=0).mean()), float(means[-WINDOW:].std(axis=0).mean())


def confirm(job: dict, probe) -> object:
    from kerascheck.confirm import CouldNotBuild

    np = probe.np
    ns = probe.namespace(job)
    keyword = job["keyword"]
    if job["kind"] == "layer":
        original = probe.eval(job["layer"], ns)
        K = probe.keras_for(original)
        cls, config = type(original), original.get_config()
        value = float(config[keyword])
        axis = _axis(original)
        what = f"{cls.__name__}({keyword}={value:g})"
    else:
        value = float(probe.eval(job["momentum"], ns))
        K = probe.keras
        cls, config, axis = K.layers.BatchNormalization, {"momentum": value}, -1
        what = f"the momentum {value:g} in a Keras BatchNormalization (the tf.compat.v1 layer wraps it)"
    rank = max(2, axis + 1) if axis >= 0 else 2
    rng = np.random.RandomState(0)
    data = rng.normal(MEAN, STD, size=(STEPS, BATCH, *([2] * (rank - 2)), CHANNELS)).astype("float32")
    try:
        flagged, noise = _jitter(_fresh(cls, config, keyword, value), keyword, data, probe)
        reference, _ = _jitter(_fresh(cls, config, keyword, REFERENCE), keyword, data, probe)
    except AttributeError as exc:
        raise CouldNotBuild(f"{what} keeps no such moving statistic: {exc}") from None
    if noise <= 0 or reference <= 0:
        raise CouldNotBuild("the synthetic batches did not move the moving mean")
    share = flagged / noise
    tracked = "renorm_mean" if keyword == "renorm_momentum" else "moving_mean"
    evidence = (f"{tracked} jitter {flagged:.3f} at {keyword}={value:g} = {share:.2f} of one batch's own noise "
                f"({noise:.3f}; {'>' if share > THRESHOLD else '<='} {THRESHOLD:g}: the moving statistics "
                f"{'follow the last batches' if share > THRESHOLD else 'average many batches'}), "
                f"{flagged / reference:.1f}x the jitter at {REFERENCE} ({reference:.3f}); {STEPS} training-mode "
                f"batches of {BATCH} from N({MEAN:g}, {STD:g}^2) through {what}")
    if share > THRESHOLD:
        return probe.confirmed(evidence)
    return probe.not_reproduced(evidence)
