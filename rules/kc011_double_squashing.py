"""A softmax or sigmoid output trained with `from_logits=True`.

## What it does
Flags `model.compile(loss=...)` with a categorical, sparse categorical or
binary cross-entropy given a literal `from_logits=True` (a
`keras.losses.*Crossentropy(from_logits=True)` object, also through a
variable, per output when the mapping is literal) when the model's last layer
ends in softmax or sigmoid: the `activation=` of its last layer, a trailing
`Activation("softmax")` / `Softmax()` layer, a `Lambda(tf.nn.softmax)`, or
`tf.nn.softmax` / `keras.activations.sigmoid` / `keras.ops.softmax` applied
to the output, in any model style and import spelling.

It stays silent on linear outputs with `from_logits=True` and squashed
outputs without it (the right pairs), on a `from_logits` that is not a
literal, on losses built elsewhere, on outputs it cannot see, and on one-unit
outputs that KC007 reports (a softmax over one unit, a categorical loss on
one unit).

## Why is this bad?
`from_logits=True` tells the loss to apply the softmax (or sigmoid) itself, so
the model's own softmax is applied twice. What happens depends on the backend
(measured with TF 2.21 / Keras 3.15, KERAS_FACTS_2 N1.4-N1.6):

- On the TensorFlow backend Keras undoes it: its softmax and sigmoid keep
  their input, and the loss computes from those logits whatever `from_logits`
  says, so training is identical to the correct set-up (evaluate 1.3405 both
  ways) and Keras prints: `"`categorical_crossentropy` received
  `from_logits=True`, but the `output` argument was produced by a Softmax
  activation and thus does not represent logits. Was this intended?` (N1.5;
  tf_keras has the same repair and warning).
- On JAX and PyTorch (and on TensorFlow when the output passes through
  anything that hides the softmax, e.g. `tf.identity` in a custom loss) there
  is no repair: the loss is the cross-entropy of a softmax of probabilities,
  1.1625 instead of 1.3405 at the start, and training ends at 0.711 instead of
  0.391 (3-class cross-entropy of softmax(probabilities) cannot go below
  0.551); binary: 0.650 instead of 0.342 (N1.6). The gradients are flattened
  and the loss values are unusable.

So the code only works by accident, on one backend, with a warning.

## Example
    model = keras.Sequential([layers.Dense(64, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

## Use instead
    model = keras.Sequential([layers.Dense(64, activation="relu"),
                              layers.Dense(10)])  # logits
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

or keep the softmax and drop `from_logits=True`.

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds Input -> Dense(16, relu) -> the flagged last layers (constructed from their
own source) on synthetic Gaussian blobs with one class per unit, and computes the flagged loss
(constructed from its own source) on the untrained outputs behind `tf.identity` (what JAX and
PyTorch compute: no logits to recover) and, for comparison, the same cross-entropy of the
network's own logits (its values before the last activation). `confirmed` when the two differ
by more than 1 %: the double squash is real on the other backends. The evidence adds what the
TensorFlow backend computes in a traced graph (as `fit` does: the logits recovered) and whether
the warning W1 was observed, and the loss after 6 full-batch Adam steps both ways. Measured on
the fixtures: 13-22 % apart and W1 on every finding; the clean look-alikes (linear heads with
`from_logits=True`, softmax/sigmoid heads without it) 0.0 % apart.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import TRAINING_ANCHORS, Context, Hit, Rule

LOSSES = frozenset({"categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"})  # N1
SQUASHES = frozenset({"softmax", "sigmoid"})

RULE = Rule(
    "KC011", "double-squashing",
    "The last layer, {last} (line {last_line}), already applies {act}, and `{loss}` with `from_logits=True` "
    "applies it again: Keras's TensorFlow backend undoes this and warns \"does not represent logits\", but "
    "on JAX or PyTorch the loss trains on a double squash (N1.6); drop `from_logits=True` or the {act}",
    severity="warning",
    needs=((b"compile", b"from_logits"),),
    anchors=TRAINING_ANCHORS,
)

VALID = [
    # Logits with from_logits=True: the right pair.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(3)])\n"
    "m.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))\n",
    # Softmax with from_logits=False: the right pair.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(3, activation='softmax')])\n"
    "m.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=False))\n",
    # from_logits not a literal.
    "import keras\nfrom keras import layers\nLOGITS = load()\n"
    "m = keras.Sequential([layers.Dense(3, activation='softmax')])\n"
    "m.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=LOGITS))\n",
]
INVALID = [
    "import tensorflow as tf\n"
    "m = tf.keras.Sequential([tf.keras.layers.Dense(10, activation='softmax')])\n"
    "m.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # expect: KC011\n",
]


def findings(ctx: Context) -> Iterator[tuple]:
    """(compile, output, loss) for each finding; shared with the confirm recipe."""
    for comp, output, loss in ctx.training.pairs():
        if loss.name not in LOSSES or loss.from_logits is not True or output.activation not in SQUASHES:
            continue
        if output.units == 1 and (output.activation == "softmax" or loss.labels in ("categorical", "sparse")):
            continue  # a softmax over one unit, a categorical loss on one unit: KC007
        yield comp, output, loss


def check(ctx: Context) -> Iterator[Hit]:
    for comp, output, loss in findings(ctx):
        yield Hit(comp.where, fmt={"last": output.label, "act": output.activation, "loss": loss.name},
                  related={"last": output.node}, data={"compile": comp, "output": output, "loss": loss})
