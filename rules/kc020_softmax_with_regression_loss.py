"""A softmax output trained with a regression loss (mse, mae, msle, huber, log_cosh, mape).

## What it does
Flags `model.compile(loss=...)` with a regression loss (`"mse"`,
`"mean_absolute_error"`, `keras.losses.Huber()`, `"log_cosh"`, ..., as a
string, a `keras.losses` function or object, also through a variable, per
output when the mapping to the outputs is literal) when the model's last layer
ends in a softmax over its last axis: its `activation=`, a trailing
`Activation("softmax")` / `Softmax()` layer, or `tf.nn.softmax` /
`keras.ops.softmax` applied to the output, in any model style and import
spelling.

It stays silent on sigmoid outputs (sigmoid + mse trains multi-label targets as
well as binary cross-entropy: F1 0.971 both), on linear outputs, on custom or
imported losses, on a softmax along another axis, and on a softmax over a
literal 1 unit, which KC007 reports (it always outputs 1.0).

## Why is this bad?
A softmax row sums to 1, so it can say "one of these classes", never "these
three labels". Measured with TF 2.21 / Keras 3.15 and tf_keras 2.21,
`Dense(5, <last>)`, 20 epochs, 500 held-out rows
(tests/measurements/kc020_softmax_regression.py):

- Multi-label targets (2.85 of 5 labels per row): softmax + mse reaches a
  micro F1 of 0.28 at threshold 0.5 (0.47 labels predicted per row, 14 % of
  label sets exactly right), against 0.97 (84 %) for sigmoid + binary
  cross-entropy; mae 0.47, huber 0.28, log_cosh 0.31, msle 0.18. The ranking
  is hurt too (mean ROC AUC 0.86-0.92 instead of 0.996). Nothing warns: the
  loss falls (0.405 -> 0.306) and looks like training.
- One-hot classes: softmax + mse trains nearly as well as categorical
  cross-entropy (accuracy 0.800 vs 0.808, mae 0.790), only slower to become
  confident.

So for one class per sample this is a weaker choice of loss, and for several
labels per sample it is a model that cannot express its targets.

## Example
    model = keras.Sequential([layers.Dense(64, activation="relu"),
                              layers.Dense(5, activation="softmax")])
    model.compile(optimizer="adam", loss="mse")

## Use instead
One class per sample:

    model.compile(optimizer="adam", loss="categorical_crossentropy")

Several labels per sample: `layers.Dense(5, activation="sigmoid")` with
`loss="binary_crossentropy"`.

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds Input -> Dense(16, relu) -> the flagged last layers (constructed from their
own source) on synthetic multi-label data (unit j is on where a random direction w_j of the
input is positive: about half the labels on per row), compiles the flagged loss (constructed
from its own source) with Adam(0.01), fits 40 epochs and counts the labels predicted per row at
threshold 0.5: `confirmed` when no row gets two while most target rows have two or more (a
softmax row never has two values above 0.5). The evidence adds the micro F1. Measured on the
fixtures: at most 1 label per row, micro F1 0.02-0.50; the clean look-alikes (sigmoid outputs
with mse or mae) predict 2.0-3.0 labels per row, micro F1 0.99.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import TRAINING_ANCHORS, Context, Hit, Rule

RULE = Rule(
    "KC020", "softmax-with-regression-loss",
    "The last layer, {last} (line {last_line}), applies softmax, trained with the regression loss `{loss}`: "
    "a softmax row sums to 1, so for multi-label targets the model cannot output two labels (micro F1 0.28 "
    "instead of 0.97 measured), and for one class per sample it is a weaker loss than cross-entropy; use "
    "`categorical_crossentropy` for classes, or `activation=\"sigmoid\"` with `binary_crossentropy` for "
    "multi-label targets",
    severity="warning",
    needs=tuple((b"compile", b"oftmax", loss) for loss in (
        b"mse", b"MSE", b"mae", b"MAE", b"ean_squared", b"ean_absolute", b"eanSquared", b"eanAbsolute", b"uber",
        b"og_cosh", b"ogcosh", b"ogCosh", b"mape", b"MAPE", b"msle", b"MSLE")),
    anchors=TRAINING_ANCHORS,
)

VALID = [
    # Softmax with categorical cross-entropy.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(5, activation='softmax')])\nm.compile(loss='categorical_crossentropy')\n",
    # Sigmoid with mse: a legitimate multi-label set-up.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(5, activation='sigmoid')])\nm.compile(loss='mse')\n",
    # A custom loss.
    "import keras\nfrom keras import layers\n"
    "def my_loss(y, p):\n    return keras.ops.mean((y - p) ** 2)\n"
    "m = keras.Sequential([layers.Dense(5, activation='softmax')])\nm.compile(loss=my_loss)\n",
]
INVALID = [
    "import tensorflow as tf\n"
    "m = tf.keras.Sequential([tf.keras.layers.Dense(10, activation='softmax')])\n"
    "m.compile(optimizer='adam', loss='mse')  # expect: KC020\n",
]


def findings(ctx: Context) -> Iterator[tuple]:
    """(compile, output, loss) for each finding; shared with the confirm recipe."""
    for comp, output, loss in ctx.training.pairs():
        if loss.family != "regression" or output.activation != "softmax":
            continue
        if output.units == 1:
            continue  # a softmax over one unit: KC007
        yield comp, output, loss


def check(ctx: Context) -> Iterator[Hit]:
    for comp, output, loss in findings(ctx):
        yield Hit(comp.where, fmt={"last": output.label, "loss": loss.name},
                  related={"last": output.node}, data={"compile": comp, "output": output, "loss": loss})
