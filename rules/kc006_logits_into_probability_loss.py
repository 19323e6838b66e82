"""A linear (or relu) last layer trained with a cross-entropy that expects probabilities.

## What it does
Flags `model.compile(loss=...)` with categorical, sparse categorical or binary
cross-entropy whose `from_logits` is absent or a literal `False`, when the
model's last layer has no activation (`activation=None`, `"linear"`, or none
given) or ends in relu, also through a trailing `Activation("linear")` /
`Activation("relu")` / `ReLU()` layer. The loss may be a string
(`"categorical_crossentropy"`, `"bce"`), a `keras.losses` function or a
`keras.losses.*Crossentropy(...)` object, also through a variable, and one
loss per output of a list or dict when the mapping to the outputs is literal.
The model may be a `Sequential` list, `model.add` calls, a functional
`Model(inputs, outputs)`, a factory (`model = build_model()`) or a
subclassed `keras.Model` whose `call()` ends in a visible layer, in this file or
in another module of the project, in any import spelling (`keras`, `tf.keras`,
`tf_keras`).

It stays silent on softmax/sigmoid outputs, on `from_logits=True`, on a
`from_logits` that is not a literal, on losses built elsewhere (imported,
custom functions), on outputs it cannot see (a model from an application or a
library outside the project, an unknown layer last, a subclass with its own
`train_step`), and on 1-unit outputs with a categorical loss (KC007).

## Why is this bad?
Without `from_logits=True` these losses read the outputs as probabilities:
Keras renormalises the raw scores, clips them to [1e-7, 1 - 1e-7] and takes
the log, so the gradients are those of a different, badly scaled loss. It
trains, silently, and worse (measured with TF 2.21 / Keras 3.15,
KERAS_FACTS_2 N1.1-N1.3, on 3 Gaussian blobs, 30 epochs): categorical
cross-entropy starts at 6.67 instead of 1.34 and ends at 2.31 instead of 0.39,
accuracy 0.387 instead of 0.833 (sparse: 0.517); binary cross-entropy starts at
3.93 instead of 0.89; a relu output gives a NaN loss from the first batch
(rows of zeros are renormalised 0/0) and accuracy stays at chance. Keras warns
about none of this: its "does not represent logits" warning is for the other
direction (KC011). A linear `Conv2D(1, 1)` segmentation head with binary
cross-entropy starts at 5.95 instead of 0.70 (8.5x,
tests/measurements/training_setup.py T6).

A Sequential model that gets its softmax from `model.add` *after* `compile`
is not flagged: `fit` trains the model as it ends (same losses as with the
softmax from the start, Keras 3 and tf_keras, training_setup.py T4). `tf.losses`
is `tf.keras.losses` in TF 2 (T5), so `tf.losses.CategoricalCrossentropy()` counts.

## Example
    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(10),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy")

## Use instead
Either squash the output:

    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="categorical_crossentropy")

or keep the logits and say so (numerically better; apply softmax at predict time):

    model.compile(optimizer="adam",
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True))

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds Input -> Dense(16, relu) -> the flagged last layers (from the layer that
sets the units to the output, constructed from their own source) on synthetic Gaussian blobs
with one class per unit (one position per class for Conv heads), and computes the flagged loss
(constructed from its own source) on the untrained outputs next to the cross-entropy of the
same network's logits (`from_logits=True` on the pre-activation values). `confirmed` when the
flagged loss is NaN or more than 1.25x the logits loss; the evidence adds the accuracy after
6 full-batch Adam steps of each set-up from the same initial weights. Measured on the
fixtures: 1.6x to 8.8x on every finding (accuracy after 6 steps 0.01-0.99 as declared vs
0.48-0.997 with logits), 1.00x on every clean look-alike (softmax or sigmoid heads in every
spelling, `from_logits=True` on linear heads). Median 2 s per finding on 2 busy cores.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import TRAINING_ANCHORS, Context, Hit, Rule

LOSSES = frozenset({"categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"})  # N1
UNSQUASHED = frozenset({"linear", "relu"})

RULE = Rule(
    "KC006", "logits-into-probability-loss",
    "The last layer, {last} (line {last_line}), {act}, but `{loss}` without `from_logits=True` reads its "
    "outputs as probabilities: {effect}; add `activation=\"{squash}\"` to it or pass `from_logits=True`",
    severity="error",
    needs=((b"compile", b"rossentropy"), (b"compile", b"bce"), (b"compile", b"BCE")),
    anchors=TRAINING_ANCHORS,
)

VALID = [
    # Softmax output with the default from_logits=False: the right pair.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(8, activation='relu'), layers.Dense(3, activation='softmax')])\n"
    "m.compile(loss='categorical_crossentropy')\n",
    # Linear output with from_logits=True: the right pair.
    "import tensorflow as tf\n"
    "m = tf.keras.Sequential([tf.keras.layers.Dense(10)])\n"
    "m.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))\n",
    # from_logits not a literal: unknown.
    "import keras\nfrom keras import layers\n"
    "def train(flag):\n    m = keras.Sequential([layers.Dense(3)])\n"
    "    m.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=flag))\n",
    # The loss comes from elsewhere.
    "import keras\nfrom keras import layers\nfrom mylib import my_loss\n"
    "m = keras.Sequential([layers.Dense(3)])\nm.compile(loss=my_loss)\n",
    # The last layer is not visible.
    "import keras\nbase = keras.applications.MobileNetV2()\nbase.compile(loss='categorical_crossentropy')\n",
]
INVALID = [
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(8, activation='relu'), layers.Dense(3)])\n"
    "m.compile(optimizer='adam', loss='categorical_crossentropy')  # expect: KC006\n",
    "import tensorflow as tf\nL = tf.keras.layers\n"
    "inp = tf.keras.Input((4,))\nout = L.Dense(1)(L.Dense(8, activation='relu')(inp))\n"
    "model = tf.keras.Model(inp, out)\n"
    "loss = tf.keras.losses.BinaryCrossentropy()\n"
    "model.compile('adam', loss)  # expect: KC006\n",
]

EFFECTS = {  # (loss, activation) -> measured effect (KERAS_FACTS_2 N1)
    ("categorical_crossentropy", "linear"): "training starts at 6.67 instead of 1.34 and reaches accuracy 0.39 "
                                            "instead of 0.83, without a warning (N1.1)",
    ("sparse_categorical_crossentropy", "linear"): "training starts at 6.67 instead of 1.34 and reaches accuracy "
                                                   "0.52 instead of 0.83, without a warning (N1.1)",
    ("binary_crossentropy", "linear"): "training starts at 3.93 instead of 0.89 on a loss of clipped raw scores, "
                                       "without a warning (N1.2)",
    ("categorical_crossentropy", "relu"): "a row of zeros gives a NaN loss from the first batch (N1.3)",
    ("sparse_categorical_crossentropy", "relu"): "a row of zeros gives a NaN loss from the first batch (N1.3)",
}
ACTS = {"linear": "outputs raw scores (no activation)", "relu": "ends in relu"}


def findings(ctx: Context) -> Iterator[tuple]:
    """(compile, output, loss) for each pair this rule flags; shared with the confirm recipe."""
    for comp, output, loss in ctx.training.pairs():
        if loss.name not in LOSSES or loss.from_logits is not False or output.activation not in UNSQUASHED:
            continue
        if output.units == 1 and loss.labels in ("categorical", "sparse"):
            continue  # one unit with a categorical loss: KC007
        yield comp, output, loss


def check(ctx: Context) -> Iterator[Hit]:
    for comp, output, loss in findings(ctx):
        effect = EFFECTS.get((loss.name, output.activation), "it trains on clipped raw scores, without a warning")
        squash = "sigmoid" if loss.labels == "binary" else "softmax"
        yield Hit(comp.where, fmt={"last": output.label, "act": ACTS[output.activation], "loss": loss.name,
                                   "effect": effect, "squash": squash},
                  related={"last": output.node}, data={"compile": comp, "output": output, "loss": loss})
