"""A 1-unit output with a categorical loss, or a softmax over a single unit.

## What it does
Flags two mismatches between a model's last layer and its loss:

- a last layer with a literal `units=1` (a `Dense(1)`, whatever its
  activation, also behind `Activation`/`Softmax` layers) trained with
  categorical or sparse categorical cross-entropy, as a string, a
  `keras.losses` function or object, per output when the mapping is literal;
- any softmax over a 1-unit axis: `Dense(1, activation="softmax")`,
  `Activation("softmax")` / `Softmax()` / `tf.nn.softmax` after a `Dense(1)`,
  whatever the loss, and also when the model is never compiled in the file
  (then it is reported at the layer).

It stays silent when the units are not a literal (or a same-file constant), on
softmax along another axis (`Softmax(axis=1)` over a sequence, attention
weights), on softmax over two or more units with binary cross-entropy (it
trains, N8.5), and on losses it cannot see.

## Why is this bad?
Measured with TF 2.21 / Keras 3.15 and tf_keras 2.21 (KERAS_FACTS_2 N8, which
agree on every row):

- `Dense(1, sigmoid)` + `categorical_crossentropy`: categorical cross-entropy
  normalises over the units, and one unit always normalises to 1, so the loss
  is exactly 0.0000 before and after 30 epochs and nothing learns (accuracy
  stays at the majority share, 0.700); Keras only emits a SyntaxWarning (N8.1).
  The same for a linear, tanh or relu unit and with `from_logits=True`
  (0.000000 before and after 20 epochs, Keras 3 and tf_keras; a relu unit
  without `from_logits` gives NaN: tests/measurements/training_setup.py T1).
- `Dense(1, sigmoid)` + `sparse_categorical_crossentropy` with 0/1 labels:
  the first batch raises `Received a label value of 1 which is outside the
  valid range of [0, 1)` (N8.2).
- Softmax over one unit always returns 1.0. With `binary_crossentropy` it
  is worse than useless: Keras's TensorFlow backend computes the loss from the
  pre-softmax value, so the reported loss trains normally (0.8868 -> 0.3423,
  the same figures as a sigmoid) while every prediction is 1.0 and accuracy
  stays 0.300 (N8.3). Keras warns "You are using a softmax over axis -1 of a
  tensor of shape (None, 1)". Every spelling gives 1.0000000 for every input:
  `activation="softmax"`, `Activation("softmax")`, `Softmax()`,
  `Lambda(tf.nn.softmax)`, `keras.ops.softmax` (training_setup.py T2), while
  `Softmax(axis=1)` over (T, 1) attention scores varies as it should.

## Example
    model = keras.Sequential([layers.Dense(16, activation="relu"),
                              layers.Dense(1, activation="softmax")])
    model.compile(optimizer="adam", loss="binary_crossentropy")

    clf.add(layers.Dense(1, activation="sigmoid"))
    clf.compile(optimizer="adam", loss="categorical_crossentropy")

## Use instead
    model = keras.Sequential([layers.Dense(16, activation="relu"),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")

For more than two classes: `Dense(num_classes, activation="softmax")` with
`categorical_crossentropy` (one-hot labels) or
`sparse_categorical_crossentropy` (integer labels).

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` builds Input -> Dense(16, relu) -> the flagged last layers (constructed from their
own source) on synthetic Gaussian blobs with 0/1 labels, and measures, as the finding says:
for a softmax over one unit, the predictions on 300 random inputs (`confirmed` when every one
is 1.0 within 1e-6); for a categorical loss (constructed from its own source), the loss before
and after 6 full-batch Adam steps (`confirmed` when both are below 1e-6), or the error a
sparse loss raises on label 1 (`confirmed` when it says the label is out of range). Measured
on the fixtures: every softmax output 1.0000000, loss 0.000000 before and after, the
out-of-range error; the clean look-alikes (`Dense(1, sigmoid)` + binary cross-entropy,
softmax over 2 units) give a loss of 0.6-0.8 and predictions that vary.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import TRAINING_ANCHORS, Context, Hit, Rule

CATEGORICAL = frozenset({"categorical_crossentropy", "sparse_categorical_crossentropy"})

RULE = Rule(
    "KC007", "loss-output-units-mismatch",
    "The last layer, {last} (line {last_line}), has 1 unit, but `{loss}` needs one unit per class: {effect}; "
    "for two classes use 1 unit with `activation=\"sigmoid\"` and `binary_crossentropy`",
    severity="error",
    # A categorical loss compiled, or a softmax beside a literal 1-unit layer.
    needs=((b"compile", b"ategorical_crossentropy"), (b"compile", b"ategoricalCrossentropy"),
           *((b"oftmax", one) for one in (b"Dense(1", b"units=1", b"Conv1D(1", b"Conv2D(1", b"Conv3D(1",
                                          b"filters=1"))),
    anchors=TRAINING_ANCHORS,
)
SOFTMAX_MESSAGE = (
    "{head}, so it always outputs 1.0 whatever the input{loss_effect}; "
    "use `activation=\"sigmoid\"` for one unit, or one unit per class"
)
AT_LAYER = "This softmax is over 1 unit"
AT_COMPILE = "The last layer, {last} (line {last_line}), applies softmax over 1 unit"
EFFECTS = {
    "categorical_crossentropy": "the loss is exactly 0 for every sample and nothing trains (N8.1)",
    "sparse_categorical_crossentropy": "the first label 1 raises `Received a label value of 1 which is outside "
                                       "the valid range of [0, 1)` (N8.2)",
}
BINARY_EFFECT = (" (with `binary_crossentropy` the reported loss still falls, 0.89 -> 0.34, while every "
                 "prediction is 1.0, N8.3)")

VALID = [
    # One sigmoid unit with binary cross-entropy: the right pair.
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(8, activation='relu'), layers.Dense(1, activation='sigmoid')])\n"
    "m.compile(loss='binary_crossentropy')\n",
    # Softmax over two units with binary cross-entropy trains (N8.5).
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(2, activation='softmax')])\nm.compile(loss='binary_crossentropy')\n",
    # Softmax along the time axis over 1-unit scores: attention weights, not a 1-unit softmax.
    "from tensorflow.keras import layers\n"
    "def attend(h):\n    e = layers.Dense(1, activation='tanh')(h)\n    return layers.Softmax(axis=1)(e)\n",
    # Units not a literal.
    "import keras\nfrom keras import layers\n"
    "def build(n):\n    m = keras.Sequential([layers.Dense(n, activation='softmax')])\n"
    "    m.compile(loss='categorical_crossentropy')\n",
]
INVALID = [
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(8), layers.Dense(1, activation='sigmoid')])\n"
    "m.compile(optimizer='adam', loss='categorical_crossentropy')  # expect: KC007\n",
    "from tensorflow.keras import layers\n"
    "head = layers.Dense(1, activation='softmax')  # expect: KC007\n",
]


def findings(ctx: Context) -> Iterator[tuple]:
    """(kind, where, output, loss, compile) for each finding; shared with the confirm recipe.
    kind: "softmax" (a softmax over 1 unit) or the categorical loss's name."""
    at_compile: set[int] = set()
    for comp, output, loss in ctx.training.pairs():
        if output.units != 1:
            continue
        if output.activation == "softmax":
            at_compile.add(id(output.activation_node))
            yield "softmax", comp.where, output, loss, comp
        elif loss.name in CATEGORICAL:
            yield loss.name, comp.where, output, loss, comp
    for output in ctx.training.squashes():
        if output.activation == "softmax" and output.units == 1 and id(output.activation_node) not in at_compile:
            yield "softmax", output.activation_node, output, None, None


def check(ctx: Context) -> Iterator[Hit]:
    for kind, where, output, loss, comp in findings(ctx):
        data = {"kind": kind, "output": output, "loss": loss, "compile": comp}
        if kind == "softmax":
            at_layer = comp is None
            text = SOFTMAX_MESSAGE.format(
                head=AT_LAYER if at_layer else AT_COMPILE,
                loss_effect=BINARY_EFFECT if loss is not None and loss.name == "binary_crossentropy" else "",
            )
            yield Hit(where, fmt={"last": output.label}, related={} if at_layer else {"last": output.node},
                      message=text, data=data)
        else:
            yield Hit(where, fmt={"last": output.label, "loss": loss.name, "effect": EFFECTS[kind]},
                      related={"last": output.node}, data=data)
