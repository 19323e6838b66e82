"""BatchNormalization momentum written in PyTorch's convention.

## What it does
Flags a Keras `BatchNormalization` (also `SyncBatchNormalization`, every
import spelling: `keras`, `tf.keras`, `tf_keras`, aliases) whose `momentum`
is a number below 0.5, written at the call or as a name bound once to one
(`BN_MOMENTUM = 0.1`); the same for `renorm_momentum` when `renorm=True`;
and `tf.compat.v1.layers.batch_normalization(x, momentum=...)` /
`tf.compat.v1.layers.BatchNormalization(momentum=...)`, which use the same
convention. The message gives the Keras value that means what PyTorch's
does, `1 - m`.

Not flagged: 0.5 and above (0.9, 0.99, 0.999: 0.999 only converges slowly,
it is not a convention error); 0, which no PyTorch value translates to (PyTorch's
0 freezes the statistics) and which tests use on purpose to make the moving
statistics the last batch's (keras's own BatchNormalization tests do); values
only known at run time (a parameter,
`args.momentum`), `renorm_momentum` without `renorm=True` (it does nothing
then), and every BatchNormalization that is not Keras's: `torch.nn.BatchNorm*`
(where 0.1 is right), your own class of that name.

## Why is this bad?
Keras updates `moving = moving * momentum + batch_statistic * (1 - momentum)`:
`momentum` is the weight of the *old* statistics (default 0.99). PyTorch's
`momentum` is the weight of the *new* batch (default 0.1), so PyTorch's 0.1
is Keras's 0.9. Written the PyTorch way, Keras keeps 10 % history: measured
with Keras 3.15 (KERAS_FACTS_2 N2), one batch of constant 10 moves
`moving_mean` to 9.0 at momentum 0.1 (0.1 at 0.99); on i.i.d. batches the
moving mean jitters by 0.34, as much as a single batch's own noise (0.35),
against 0.073 at 0.99: the "moving" statistics are just the last batch. An
unshuffled last batch of an epoch sets them (moving mean 4.77 for data of
mean 3). In a trained classifier whose weights are frozen, 3.9 % of test
predictions change class from one training batch to the next at momentum
0.1 (0.03 % at 0.99): the saved model depends on whichever batch came last.

## Example
    x = layers.BatchNormalization(momentum=0.1)(x)   # PyTorch's default, ported

## Use instead
    x = layers.BatchNormalization(momentum=0.9)(x)   # the same averaging in Keras

## Fix safety
The fix writes `1 - m` as a number (`momentum=0.1` becomes `momentum=0.9`) where
the value is written at the call. It is unsafe: it changes what the model
learns, and it is only right if the value was meant in PyTorch's convention
(a deliberately short average would need another value). A named constant is
not rewritten at one of its uses: change the constant.

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds the flagged layer from its own source (for the
`tf.compat.v1.layers` function, a `BatchNormalization` with the same momentum),
starts its moving statistics at the data's true mean and variance and runs 400
training-mode batches of 32 drawn from N(3, 2^2) (seed 0) through it, then the
same with the momentum set to 0.99. It measures the jitter of the moving mean
(its standard deviation over the last 300 steps) as a share of one batch's own
noise: `confirmed` above 0.45, where the moving statistics follow the last few
batches. Theory, sqrt((1 - m) / (1 + m)): 0.90 at momentum 0.1, 0.58 at 0.5, 0.33
at 0.8, 0.23 at 0.9, 0.07 at 0.99; measured 0.90 at 0.1, 0.66 at 0.4, 0.24 at 0.9
and 0.05 at 0.99 on the fixtures. The jitter at 0.99 is reported beside it (17x
smaller than at 0.1).
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import Context, Fix, Hit, LayerDef, Rule, call_arg, cst, literal_number

BATCHNORMS = frozenset({"keras.layers.BatchNormalization", "keras.layers.SyncBatchNormalization"})
# The TF1 layers API: `momentum` is the weight of the old statistics there too (it wraps Keras's BN).
TF1_BATCHNORMS = {  # canonical name -> position of `momentum`
    "tensorflow.compat.v1.layers.batch_normalization": 2, "tensorflow.layers.batch_normalization": 2,
    "tensorflow.compat.v1.layers.BatchNormalization": 1, "tensorflow.layers.BatchNormalization": 1,
}
LIMIT = 0.5  # below it, the value reads as PyTorch's weight of the new batch

RULE = Rule(
    "KC009", "torch-style-bn-momentum",
    "`{keyword}={value} keeps only {kept} of the old statistics per batch: Keras's momentum is the weight of the "
    "moving average, not of the new batch as in PyTorch, so the moving mean and variance are little more than "
    "the last batch's; PyTorch's {number} is Keras's {keras}",
    severity="warning",
    needs=((b"atch", b"momentum"),),
    anchors=(*BATCHNORMS, *TF1_BATCHNORMS),
)

VALID = [
    "from keras import layers\nx = layers.BatchNormalization(momentum=0.9)(x)\n",
    "import keras\nx = keras.layers.BatchNormalization(momentum=0.5)(x)\n",
    # Not Keras: PyTorch's 0.1 is right there.
    "import torch\nbn = torch.nn.BatchNorm2d(64, momentum=0.1)\n",
    # Known only at run time.
    "from keras import layers\ndef block(x, momentum):\n    return layers.BatchNormalization(momentum=momentum)(x)\n",
    # renorm_momentum does nothing without renorm=True.
    "from keras import layers\nbn = layers.BatchNormalization(renorm_momentum=0.1)\n",
]
INVALID = [
    "from keras import layers\nx = layers.BatchNormalization(momentum=0.1)(x)  # expect: KC009\n",
    "import tensorflow as tf\nBN_MOMENTUM = 0.01\n"
    "bn = tf.keras.layers.BatchNormalization(axis=1, momentum=BN_MOMENTUM)  # expect: KC009\n",
    "import tensorflow as tf\ny = tf.compat.v1.layers.batch_normalization(x, momentum=0.1, training=True)  # expect: KC009\n",
]


def _number(ctx: Context, expr: cst.BaseExpression | None, scope) -> float | None:
    value = literal_number(expr)
    if value is None and isinstance(expr, cst.Name):
        got = ctx.constant(expr, scope)  # a name bound once (`BN_MOMENTUM = 0.1`)
        if isinstance(got, (int, float)) and not isinstance(got, bool):
            value = float(got)
    return value


def _hit(ctx: Context, expr: cst.BaseExpression, keyword: str, data: dict, scope) -> Hit | None:
    value = _number(ctx, expr, scope)
    if value is None or not 0 < value < LIMIT:
        return None
    keras = f"{1 - value:.10g}"
    fix = None
    if literal_number(expr) is not None:
        fix = Fix.replace(expr, keras, f"Use `{keyword}={keras}`, the Keras equivalent of PyTorch's {value:g}",
                          applicability="unsafe")
    written = ctx.code(expr).strip()
    if literal_number(expr) is None:
        written += f"` (= {value:g})"
    else:
        written += "`"
    fmt = {"keyword": keyword, "value": written, "number": f"{value:g}", "kept": f"{value * 100:.3g} %",
           "keras": keras}
    return Hit(expr, fmt=fmt, fix=fix, data={**data, "keyword": keyword, "momentum": value})


def _renorm(layer: LayerDef) -> bool:
    expr = layer.arg("renorm")
    return isinstance(expr, cst.Name) and expr.value == "True"


def check(ctx: Context) -> Iterator[Hit]:
    seen: set[int] = set()
    for layer in ctx.picture.layers:
        if layer.name not in BATCHNORMS or id(layer.node) in seen:
            continue
        seen.add(id(layer.node))
        for keyword, position in (("momentum", 1), ("renorm_momentum", None)):
            expr = layer.arg(keyword, position)
            if expr is None or (keyword == "renorm_momentum" and not _renorm(layer)):
                continue
            hit = _hit(ctx, expr, keyword, {"layer": layer}, layer.site.scope)
            if hit is not None:
                yield hit
    for event in ctx.picture.calls:
        position = TF1_BATCHNORMS.get(event.canon.name)
        if position is None or id(event.node) in seen:
            continue
        seen.add(id(event.node))
        expr = call_arg(event.node, "momentum", position)
        if expr is not None:
            hit = _hit(ctx, expr, "momentum", {"call": event.node}, event.site.scope)
            if hit is not None:
                yield hit
