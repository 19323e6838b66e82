"""`'accuracy'` tracked on a regression model.

## What it does
Flags `model.compile(loss=<regression loss>, metrics=[..., "accuracy", ...])`
(also `"acc"`, also in `weighted_metrics`) when the model has one output, a
last layer with a literal `units=1` and no squashing activation (none,
`"linear"` or `"relu"`), and the loss is mean squared / absolute / absolute
percentage / squared logarithmic error, Huber or log-cosh, as a string
(`"mse"`, `"mean_absolute_error"`, `"huber_loss"`, ...), a `keras.losses`
function or a `keras.losses` object, in any model style and import spelling.

It stays silent with a sigmoid or softmax output (0/1 targets make accuracy
meaningful there), with an explicit `BinaryAccuracy(threshold=...)` or any
other metric object (the author chose it), with several output units (Keras
then picks an argmax accuracy, meaningful for one-hot targets trained with
mse), with custom or unknown losses, and when the last layer is not visible.

## Why is this bad?
Keras picks the accuracy class from the shapes of the targets and
predictions, never from the loss (keras/src/trainers/compile_utils.py
`get_metric`): with one output unit it is `BinaryAccuracy`, which rounds the
prediction at 0.5 and counts exact matches with the target. On a continuous
target that is meaningless. Measured with TF 2.21 / Keras 3.15
(KERAS_FACTS_2 N7): at an exact least-squares fit (R^2 = 1.000, mse 0.0000)
`'accuracy'` reads 0.000, for y = x @ w and for house-price-like y = x @ w + 50
(N7.2); the same for a relu output, for `'acc'`, for mae, and in tf_keras
(0.000 at R^2 1.000 in all eight combinations: tests/measurements/training_setup.py
T3). The number looks like a broken model, or, logged beside the loss,
hides how the regression is doing. Only with 0/1 targets is it meaningful
(0.973 at R^2 0.631, N7.3), which a linear head rarely has.

## Example
    model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])

## Use instead
    model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse",
                  metrics=["mae", keras.metrics.RootMeanSquaredError()])

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds Input(4) -> the flagged last layer (constructed from its own source),
compiled with the flagged loss (from its own source) and the flagged accuracy metric, on
continuous targets y = x @ w + 50 (256 samples), sets the layer to the exact least-squares
solution (the best any training can reach) and evaluates. `confirmed` when the accuracy Keras
reports is below 0.05 at R^2 above 0.99. Measured on the fixtures: accuracy 0.000 at R^2 1.000
on every finding. A clean look-alike with a sigmoid head is trained on 0/1 targets (what such a
head models) for 6 full-batch epochs and reports an accuracy of 0.875; one without an accuracy
metric reports none.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import TRAINING_ANCHORS, Context, Hit, Rule

ACCURACY = frozenset({"accuracy", "acc"})  # the strings compile_utils resolves from the shapes
LINEAR = frozenset({"linear", "relu"})

RULE = Rule(
    "KC010", "accuracy-on-regression",
    "`{metric}` on a regression (`{loss}` on a 1-unit {act} output, {last} on line {last_line}): Keras "
    "tracks it as BinaryAccuracy, exact matches after rounding at 0.5, which reads 0.000 even at a perfect "
    "fit (N7.2); track `mae` or `keras.metrics.RootMeanSquaredError()` instead",
    severity="warning",
    # `compile`, an accuracy string and a regression loss word, in every combination.
    needs=tuple((b"compile", metric, loss) for metric in (b"'acc", b'"acc') for loss in (
        b"mse", b"MSE", b"mae", b"MAE", b"ean_squared", b"ean_absolute", b"eanSquared", b"eanAbsolute", b"uber",
        b"og_cosh", b"ogcosh", b"ogCosh", b"mape", b"MAPE", b"msle", b"MSLE")),
    anchors=TRAINING_ANCHORS,
)

VALID = [
    # A sigmoid output: 0/1 targets make accuracy meaningful.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(1, activation='sigmoid')])\n"
    "m.compile(loss='mse', metrics=['accuracy'])\n",
    # An explicit BinaryAccuracy: the author chose it.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(1)])\n"
    "m.compile(loss='mse', metrics=[keras.metrics.BinaryAccuracy(threshold=0.5)])\n",
    # Regression metrics.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(1)])\nm.compile(loss='mse', metrics=['mae'])\n",
    # Several units: an argmax accuracy (one-hot targets with mse).
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(10)])\nm.compile(loss='mse', metrics=['accuracy'])\n",
]
INVALID = [
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(64, activation='relu'), layers.Dense(1)])\n"
    "m.compile(optimizer='adam', loss='mse', metrics=['accuracy'])  # expect: KC010\n",
]


def findings(ctx: Context) -> Iterator[tuple]:
    """(compile, output, loss, metric) for each finding; shared with the confirm recipe."""
    for comp, output, loss in ctx.training.pairs():
        if len(comp.model.outputs) != 1 or not comp.metrics:
            continue
        metric = next((m for m in comp.metrics if m.name in ACCURACY), None)
        if metric is not None and loss.family == "regression" and output.activation in LINEAR and output.units == 1:
            yield comp, output, loss, metric


def check(ctx: Context) -> Iterator[Hit]:
    for comp, output, loss, metric in findings(ctx):
        yield Hit(comp.where, fmt={"metric": metric.name, "loss": loss.name, "last": output.label,
                                   "act": output.activation},
                  related={"last": output.node}, data={"compile": comp, "output": output, "loss": loss,
                                                       "metric": metric})
