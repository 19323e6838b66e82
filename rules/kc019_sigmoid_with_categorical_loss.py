"""A sigmoid output trained with categorical or sparse categorical cross-entropy.

## What it does
Flags `model.compile(loss=...)` with `categorical_crossentropy` or
`sparse_categorical_crossentropy` (a string, a `keras.losses` function or
`*Crossentropy(...)` object, also through a variable, per output when the
mapping to the outputs is literal) whose `from_logits` is absent or a literal
`False`, when the model's last layer ends in a sigmoid: its `activation=`, a
trailing `Activation("sigmoid")` layer, or `tf.nn.sigmoid` /
`keras.activations.sigmoid` / `keras.ops.sigmoid` applied to the output, in any
model style (`Sequential` list, `model.add`, functional, same-file factory,
subclass) and import spelling.

It stays silent on sigmoid with binary cross-entropy (multi-label: the right
pair), on softmax with a categorical loss, on a `from_logits` that is not a
literal, on losses it cannot see (imported, custom), and on a sigmoid over a
literal 1 unit, which KC007 reports (the loss is then exactly 0). A sigmoid
with `from_logits=True` is KC011's. The units need not be known
(`Dense(n_classes, activation="sigmoid")`): the pair is wrong for any number.

## Why is this bad?
Categorical cross-entropy reads each output row as one probability
distribution over the classes; a sigmoid gives each unit its own independent
score. Measured with TF 2.21 / Keras 3.15 and tf_keras 2.21 on 4 Gaussian
classes, `Dense(4, sigmoid)`, 20 epochs
(tests/measurements/kc019_sigmoid_categorical.py):

- On the TensorFlow backend both libraries quietly pull the pre-sigmoid logits
  back out of the output and compute a softmax cross-entropy of them: `fit`
  trains exactly like `Dense(4, softmax)` (loss 1.713 -> 0.112, accuracy
  0.966 both ways, also for the sparse loss and an explicit
  `from_logits=False`), and nothing is printed.
- But `predict()` still returns the sigmoid scores: their rows sum to 1.31 on
  average (0.90 to 1.85), so code that reads them as class probabilities
  (confidence thresholds, calibration, expected values, ensembles) is wrong.
- Where the logits cannot be recovered (JAX and PyTorch backends, or any op
  between the sigmoid and the loss) the declared loss is what trains: the
  scores renormalised to sum 1. The argmax ends as accurate (0.967), but
  `predict()` rows then sum to 0.65 (0.05 to 0.99) and the top score averages
  0.63 instead of 0.94: the same code gives different predictions per backend.

So the argmax is right and the scores are not probabilities; the set-up works
by accident on one backend.

## Example
    model = keras.Sequential([layers.Dense(64, activation="relu"),
                              layers.Dense(10, activation="sigmoid")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")

## Use instead
One class per sample:

    model = keras.Sequential([layers.Dense(64, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")

Several labels per sample (multi-label): keep the sigmoid and use
`binary_crossentropy`.

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds Input -> Dense(16, relu) -> the flagged last layers (constructed from their
own source) on synthetic Gaussian blobs with one class per unit, compiles the flagged loss
(constructed from its own source) with Adam(0.01), fits 30 epochs and reads `predict()`:
`confirmed` when fewer than 90 % of the rows sum to 1 within 0.05 (they are not probability
rows). The evidence adds the mean row sum, its range and the argmax accuracy. Measured on the
fixtures: rows sum to 0.48-3.55 on average, 0-6 % of them within 0.05 of 1 (a
`tf.nn.sigmoid` activation hides the logits from Keras 3, so the declared loss trains there:
rows sum 0.48); the clean look-alikes (softmax with a categorical loss) sum to 1.00, every row.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import TRAINING_ANCHORS, Context, Hit, Rule

LOSSES = frozenset({"categorical_crossentropy", "sparse_categorical_crossentropy"})

RULE = Rule(
    "KC019", "sigmoid-with-categorical-loss",
    "The last layer, {last} (line {last_line}), applies sigmoid, but `{loss}` reads each output row as one "
    "probability distribution: Keras's TensorFlow backend silently trains the pre-sigmoid logits as a softmax, "
    "while `predict()` returns independent sigmoid scores whose rows do not sum to 1 (0.90-1.85 measured), and on "
    "JAX or PyTorch the loss trains the renormalised scores instead; use `activation=\"softmax\"` for one class "
    "per sample, or `binary_crossentropy` for multi-label targets",
    severity="warning",
    needs=((b"compile", b"ategorical_crossentropy", b"sigmoid"), (b"compile", b"ategoricalCrossentropy", b"sigmoid")),
    anchors=TRAINING_ANCHORS,
)

VALID = [
    # Sigmoid with binary cross-entropy: multi-label, the right pair.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(8, activation='relu'), layers.Dense(5, activation='sigmoid')])\n"
    "m.compile(loss='binary_crossentropy')\n",
    # Softmax with categorical cross-entropy.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(5, activation='softmax')])\nm.compile(loss='categorical_crossentropy')\n",
    # A loss from elsewhere.
    "import keras\nfrom keras import layers\nfrom losses import LOSS\n"
    "m = keras.Sequential([layers.Dense(5, activation='sigmoid')])\nm.compile(loss=LOSS)\n",
]
INVALID = [
    "import tensorflow as tf\n"
    "m = tf.keras.Sequential([tf.keras.layers.Dense(10, activation='sigmoid')])\n"
    "m.compile(optimizer='adam', loss='categorical_crossentropy')  # expect: KC019\n",
]


def findings(ctx: Context) -> Iterator[tuple]:
    """(compile, output, loss) for each finding; shared with the confirm recipe."""
    for comp, output, loss in ctx.training.pairs():
        if loss.name not in LOSSES or loss.from_logits is not False or output.activation != "sigmoid":
            continue
        if output.units == 1:
            continue  # a categorical loss on one unit: KC007
        yield comp, output, loss


def check(ctx: Context) -> Iterator[Hit]:
    for comp, output, loss in findings(ctx):
        yield Hit(comp.where, fmt={"last": output.label, "loss": loss.name},
                  related={"last": output.node}, data={"compile": comp, "output": output, "loss": loss})
