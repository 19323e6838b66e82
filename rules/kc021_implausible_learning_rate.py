"""A literal learning rate no optimizer can train with.

## What it does
Flags a Keras optimizer constructed with a literal `learning_rate` (keyword or first
positional argument, or a same-file constant):

- 1 or more for Adam, Nadam, AdamW and RMSprop (defaults 0.001);
- 10 or more for SGD (default 0.01);
- 1e-7 or less (but not 0) for any optimizer.

Silent: Adagrad, Adamax and Adadelta at the high end (measured to train at 1 and 10; 1.0 is
Adadelta's classic default), a learning rate of exactly 0 (deliberate: frozen weights in a
test, or a value a scheduler replaces), schedules and other non-literal values, and any file
that sets the learning rate while training (`LearningRateScheduler`, `K.set_value(...)`,
`optimizer.learning_rate.assign(...)` or `optimizer.lr = ...`), where the constructor's value
is only a starting point. The removed `lr=` keyword is left to KC008: Keras 3 rejects it and
tf_keras 2.21 ignores its value.

## Why is this bad?
Measured with Keras 3.15 and tf_keras 2.21 (tests/measurements/kc021_learning_rate.py): a
small classifier (8 -> 32 -> 3, 3 Gaussian classes, 760 steps) that reaches a loss of 0.057
with Adam's default 0.001 ends at 0.81 with Adam(1) and 1.04 with Adam(10) (tf_keras: 2.61 and
0.46); AdamW(1) at 17.8 (Keras 3), RMSprop(10) at 0.87, Nadam(1) at 0.24; SGD trains up to 5
on this well-conditioned toy and gives NaN at 10. At the other end, Adam(1e-7) moved the loss
by 0.001 in 760 steps and SGD(1e-7) by 0.0001: accuracy stayed at chance (0.337). Nothing
warns in either case: training runs and the numbers are just bad. A value like `1e-8` where
`1e-3` was meant, or `1` for "100 %", is a typo that costs a whole training run.

## Example
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1), loss="mse")
    model.compile(optimizer=keras.optimizers.SGD(1e-8), loss="mse")

## Use instead
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    model.compile(optimizer=keras.optimizers.SGD(1e-2), loss="mse")

## Confirm mode
`--confirm` constructs the flagged optimizer from its own source and trains the measurement's
small classifier (fixed seed, 380 steps) with it and with the same optimizer at its default
learning rate: `confirmed` when the flagged one ends with a NaN or at least twice the loss
(too high), or moved the loss by less than 5 % of what the default moved (too low);
`not reproduced` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import NOT_CONSTANT, Context, Hit, Rule, call_arg, literal_number

HIGH = {"Adam": 1.0, "Nadam": 1.0, "AdamW": 1.0, "RMSprop": 1.0, "SGD": 10.0}
LOW = 1e-7
OPTIMIZERS = frozenset({*HIGH, "Adagrad", "Adamax", "Adadelta", "Ftrl", "Lion", "Adafactor", "Muon"})
DEFAULTS = {"SGD": "0.01"}
# Canonical names of the optimizer classes: Keras's, and TensorFlow's own aliases of them.
NAMES = {f"{prefix}.{name}": name for name in OPTIMIZERS for prefix in ("keras.optimizers", "tensorflow.optimizers")}
# Words of code that changes the learning rate while training.
SETS_LR = ("learning_rate.assign", "lr.assign", ".lr =", ".learning_rate =", "set_learning_rate")
SETTERS = frozenset({"keras.callbacks.LearningRateScheduler", "keras.backend.set_value"})

RULE = Rule(
    "KC021", "implausible-learning-rate",
    "`{opt}` with learning rate {value} {why}; {name}'s default is {default}",
    severity="warning",
    needs=((b"optimizers",), (b"Adam",), (b"SGD",), (b"RMSprop",), (b"Nadam",), (b"Adagrad",), (b"Adamax",),
           (b"Adadelta",)),
    anchors=tuple(NAMES),
)

VALID = [
    "import keras\nopt = keras.optimizers.Adam(learning_rate=3e-4)\nsgd = keras.optimizers.SGD(0.1, momentum=0.9)\n",
    # Adadelta's classic learning rate is 1.0.
    "import keras\nopt = keras.optimizers.Adadelta(learning_rate=1.0)\n",
    # A scheduler sets the rate every epoch.
    "import keras\nopt = keras.optimizers.SGD(learning_rate=0.0)\n"
    "cb = keras.callbacks.LearningRateScheduler(lambda e: 0.1 * 0.9 ** e)\n",
    # Not a literal.
    "import keras\nopt = keras.optimizers.Adam(learning_rate=schedule)\n",
]
INVALID = [
    "import keras\nopt = keras.optimizers.Adam(learning_rate=1)  # expect: KC021\n",
    "from tensorflow.keras.optimizers import SGD\nLR = 1e-8\nopt = SGD(LR, momentum=0.9)  # expect: KC021\n",
]


def _default(name: str) -> str:
    return DEFAULTS.get(name, "0.001")


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def check(ctx: Context) -> Iterator[Hit]:
    setters: bool | None = None
    seen: set[int] = set()
    for event in ctx.picture.calls:
        name = NAMES.get(event.canon.name)
        if name is None or id(event.node) in seen:
            continue
        seen.add(id(event.node))
        call = event.node
        expr = call_arg(call, "learning_rate", 0)
        if expr is None:
            continue
        given = dict(event.kwargs).get("learning_rate")
        if given is None:
            positional = [a for a in call.args if a.keyword is None]
            given = event.args[0] if positional and positional[0].value is expr and event.args else None
        value = _number(ctx.shapes.literal(expr, given, event.site))
        if value is None or value is NOT_CONSTANT:
            continue
        if 0 < value <= LOW:
            why = ("is too small for training to move (measured: the loss moves by 0.001 or less in 760 steps "
                   "at 1e-7)")
        elif value >= HIGH.get(name, float("inf")):
            why = ("is far too large: training diverges or settles far from the minimum (measured: Adam at 1 ends "
                   "at 14x the loss of its default, SGD at 10 gives NaN)")
        else:
            continue
        if setters is None:
            setters = bool(ctx.picture.references & SETTERS) or any(word in ctx.text for word in SETS_LR)
        if setters:
            return
        shown = ctx.code(expr) if literal_number(expr) is not None else f"{ctx.code(expr)} = {value:g}"
        yield Hit(call, fmt={"opt": ctx.code(call.func), "value": shown, "why": why, "name": name,
                             "default": _default(name)},
                  data={"optimizer": name, "value": value})
