"""A literal learning rate no optimizer can train with.

## What it does
Flags a Keras optimizer constructed with a literal `learning_rate` (keyword or first
positional argument, or a same-file constant):

- 1 or more for Adam, Nadam and RMSprop (defaults 0.001), and for AdamW on Keras 3;
- 5 or more for SGD (default 0.01);
- 1e-7 or less (but not 0) for any optimizer.

Silent: Adagrad, Adamax and Adadelta at the high end (measured to train at 1, Adagrad also at
10; 1.0 is Adadelta's classic rate), AdamW in tf_keras (it trained at 1), a learning rate of
exactly 0 (deliberate: frozen weights in a test, or a value a scheduler replaces), schedules
and other non-literal values, any file that sets the learning rate while training
(`LearningRateScheduler`, `K.set_value(...)`, `optimizer.learning_rate.assign(...)`,
`optimizer.lr = ...`), where the constructor's value is only a starting point, and test
functions (`test_*`, `setUp`), where an extreme rate is what is tested (an update checked by
hand at 1.0, a divergence provoked on purpose). The removed `lr=` keyword is left to KC008:
Keras 3 rejects it and tf_keras 2.21 ignores its value.

## Why is this bad?
Measured with Keras 3.15 and tf_keras 2.21 (tests/measurements/kc021_learning_rate.py): a
small classifier (8 -> 64 -> 64 -> 3, three Gaussian classes, 760 steps) that reaches a loss of
0.03 and 99 % accuracy at the default rates ends, in Keras 3 (tf_keras):

- Adam(1) at 0.58 and 65 % (0.44, 79 %), Adam(2) at 0.20 (0.83), Adam(10) at 1.17 and 47 %
  (0.82, 68 %); RMSprop(1) at 0.43 and 74 % (1.12, 40 %); Nadam(1) at 0.34 (0.69, 62 %);
  AdamW(1) at 1.13 and 32 % in Keras 3 (tf_keras: 0.05, fine);
- SGD trains at 1 and 2 and gives NaN at 5 and 10 in both;
- Adam(1e-7) moves the loss by 0.003 in 760 steps (0.3 % of what the default moves),
  Adam(1e-8) by 0.0003, SGD(1e-7) by 0.00004: the model stays where it started.

Nothing warns: training runs, and the numbers are just bad. A value like `1e-8` where `1e-3`
was meant, or `1` for "100 %", costs a whole training run. (An int such as `learning_rate=1`
does not even construct in Keras 3: `ValueError: Argument learning_rate should be float`;
tf_keras accepts it.)

## Example
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1.0), loss="mse")
    model.compile(optimizer=keras.optimizers.SGD(1e-8), loss="mse")

## Use instead
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    model.compile(optimizer=keras.optimizers.SGD(1e-2), loss="mse")

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` constructs the flagged optimizer from its own source (an int, which Keras 3
refuses, as the float it stands for) and trains the measurement's classifier (fixed seed, 760
steps) with it and with the same optimizer at its default learning rate: `confirmed` when the
flagged one ends with a NaN or at least twice the loss (too high), or moved the loss by less
than 5 % of what the default moved (too low); `not reproduced` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kerascheck.rule import CallEvent, Context, Hit, Rule, call_arg, cst, literal_number

HIGH = {"Adam": 1.0, "Nadam": 1.0, "AdamW": 1.0, "RMSprop": 1.0, "SGD": 5.0}
KERAS3_ONLY = frozenset({"AdamW"})  # tf_keras's AdamW trained at 1 (the measurement)
LOW = 1e-7
OPTIMIZERS = frozenset({*HIGH, "Adagrad", "Adamax", "Adadelta", "Ftrl", "Lion", "Adafactor", "Muon"})
DEFAULTS = {"SGD": "0.01"}
# Canonical names of the optimizer classes: Keras's, and TensorFlow's own aliases of them.
NAMES = {f"{prefix}.{name}": name for name in OPTIMIZERS for prefix in ("keras.optimizers", "tensorflow.optimizers")}
# Words of code that changes the learning rate while training.
SETS_LR = ("learning_rate.assign", "lr.assign", ".lr =", ".learning_rate =", "set_learning_rate")
SETTERS = frozenset({"keras.callbacks.LearningRateScheduler", "keras.backend.set_value"})
TEST_SETUP = frozenset({"setUp", "setUpClass", "setup_method"})

RULE = Rule(
    "KC021", "implausible-learning-rate",
    "`{opt}` with learning rate {value} {why}; {name}'s default is {default}",
    severity="warning",
    # An optimizer call whose first argument is a number, `learning_rate=`, or a name like `lr`,
    # `LR`, `learning_rate`, `LEARNING_RATE` (a class statement `Adam(Optimizer)` is not one).
    # The common word first in each group: a file without it costs one look-up per group.
    needs=tuple((f"{name}(".encode(), f"{name}({start}".encode()) for name in sorted(OPTIMIZERS)
                for start in "0123456789.lL"),
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


def _in_a_test(site) -> bool:
    """In a test function (`test_*`, `setUp`): an extreme rate is what the test is about (an
    update computed by hand at 1.0, a divergence provoked on purpose)."""
    for step in site.chain():
        fn = step.function
        if isinstance(fn, cst.FunctionDef) and (fn.name.value.startswith("test") or fn.name.value in TEST_SETUP):
            return True
    return False


def rates(ctx: Context) -> Iterator[tuple[CallEvent, str, cst.BaseExpression, Any]]:
    """Each Keras optimizer construction with a learning rate whose value is known: (the call,
    the optimizer's name, the expression, its Python value)."""
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
        raw = ctx.shapes.literal(expr, given, event.site)
        if _number(raw) is not None:
            yield event, name, expr, raw


def check(ctx: Context) -> Iterator[Hit]:
    setters: bool | None = None
    for event, name, expr, raw in rates(ctx):
        value = _number(raw)
        if _in_a_test(event.site):
            continue
        if 0 < value <= LOW:
            why = ("is too small for training to move (measured: at 1e-7 the loss moves by 0.3 % of what the "
                   "default moves in 760 steps)")
        elif value >= HIGH.get(name, float("inf")) and (
                name not in KERAS3_ONLY or ctx.facts.flavor_keras(event.canon.flavor) == "3"):
            why = ("is far too large: training diverges or settles far from the minimum (measured: Adam at 1 ends at "
                   "20x the loss of its default, SGD at 5 gives NaN)")
        else:
            continue
        if isinstance(raw, int) and ctx.facts.flavor_keras(event.canon.flavor) == "3":
            why += ", and as an int Keras 3 refuses it (ValueError)"
        if setters is None:
            setters = bool(ctx.picture.references & SETTERS) or any(word in ctx.text for word in SETS_LR)
        if setters:
            return
        shown = ctx.code(expr) if literal_number(expr) is not None else f"{ctx.code(expr)} = {value:g}"
        yield Hit(event.node, fmt={"opt": ctx.code(event.node.func), "value": shown, "why": why, "name": name,
                             "default": _default(name)},
                  data={"optimizer": name, "value": value})
