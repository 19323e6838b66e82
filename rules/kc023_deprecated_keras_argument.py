"""An argument Keras takes with only a deprecation log line: it is ignored, or was renamed.

## What it does
Flags what runs without an exception but not as written (KERAS_FACTS_2 N3.3, N3.5;
tests/measurements/kc008_keras3_upgrade.py K2):

- `decay=` on a Keras 3 optimizer (`keras.optimizers.SGD(learning_rate=0.1, decay=1e-6)`,
  also through `tf.keras` since TF 2.16): Keras 3 logs "Argument `decay` is no longer
  supported and will be ignored." and trains at a constant rate;
- `lr=` on a tf_keras (Keras 2.21) optimizer: tf_keras logs that `lr` is deprecated and
  keeps the default learning rate (0.001 for Adam), whatever value was passed (N3.3);
  `tf_keras.optimizers.legacy.*` still honours `lr` and is not flagged;
- `optimizer.lr = value` on a Keras 3 optimizer: it sets a plain attribute and the
  learning rate stays what it was (K2);
- `InputLayer(input_shape=...)` in Keras 3: renamed `shape=`, still accepted with
  "Argument `input_shape` is deprecated. Use `shape` instead." (N3.5).

Where Keras 3 raises instead (`lr=` on a Keras 3 optimizer, `.lr` read), KC008 reports it.
Silent: a literal `decay=0` (no decay in Keras 2 either), `input_shape=` / `input_dim=` on other layers and `Embedding(input_length=)`
(warnings with no effect on a first layer, N3.5), Keras 2 code for the Keras 3 cases
(files that import tf_keras or mention TF_USE_LEGACY_KERAS; projects whose Keras target is 2,
unless `--target-keras 3`).

## Why is this bad?
The first two change training without an error: measured, SGD(learning_rate=0.1,
decay=0.5) takes 5 steps of gradient 1 to w = 0.500 on Keras 3, where Keras 2's legacy
optimizer, which applied `lr / (1 + decay * t)`, reached 0.710; `tf_keras.optimizers.Adam(lr=0.01)`
trains at 0.001, ten times slower than written. The log line is easy to miss in a training
run's output. `input_shape=` is only deprecated, and its fix is a rename.

This is a rule of its own, a warning, beside KC008 (keras3-removed-api, an error): KC008's
lines stop the program, these let it run and train differently (or, for `input_shape`, the
same), so the two deserve different severities, and kerascheck gives each rule one.

## Example
    opt = keras.optimizers.SGD(learning_rate=0.01, decay=1e-6, momentum=0.9)
    opt = tf_keras.optimizers.Adam(lr=1e-4)
    inputs = keras.layers.InputLayer(input_shape=(28, 28))

## Use instead
    lr = keras.optimizers.schedules.InverseTimeDecay(0.01, decay_steps=1, decay_rate=1e-6)
    opt = keras.optimizers.SGD(learning_rate=lr, momentum=0.9)
    opt = tf_keras.optimizers.Adam(learning_rate=1e-4)
    inputs = keras.layers.InputLayer(shape=(28, 28))

## Fix safety
`InputLayer(input_shape=...)` -> `shape=` is safe: the same layer, without the warning.
`decay=d` -> `learning_rate=keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1,
decay_rate=d)` is unsafe: it restores what Keras 2 did (measured: the same 0.710 as the legacy
optimizer, K4) and so changes how the model trains today, with the default rate of the
optimizer (K2) when none is given. `lr=` -> `learning_rate=` on a tf_keras optimizer is
unsafe for the same reason: the rate written starts to count. `optimizer.lr = value` gets no fix.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import KERAS3_IMPORTS, Context, Edit, Fix, Hit, Rule, call_arg, cst, literal_number, remove_arg

# Keras 3.15's default learning rates (K2), for `decay=` without a rate; tf_keras 2.21's are the same.
DEFAULT_RATE = {"SGD": "0.01", "Adam": "0.001", "AdamW": "0.001", "RMSprop": "0.001", "Adagrad": "0.001",
                "Adadelta": "0.001", "Adamax": "0.001", "Nadam": "0.001", "Ftrl": "0.001", "Lion": "0.001"}
SCHEDULE = "keras.optimizers.schedules.InverseTimeDecay"

RULE = Rule(
    "KC023", "deprecated-keras-argument",
    "{what}: {why}",
    severity="warning",
    needs=(*((word, *spelling) for word in (b"decay", b".lr", b"input_shape") for spelling in KERAS3_IMPORTS),
           (b"lr=", b"import tf_keras"), (b"lr=", b"from tf_keras")),
    anchors=("keras.optimizers.*", "keras.InputLayer@3", "keras.layers.InputLayer@3", "=.lr"),
)

VALID = [
    "import keras\nopt = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)\n",
    # tf_keras's legacy optimizers still take lr= and decay=.
    "import tf_keras\nopt = tf_keras.optimizers.legacy.SGD(lr=0.01, decay=1e-6)\n",
    "import keras\nlayer = keras.layers.Dense(4, input_shape=(8,))\n",
    # Keras 2 code: decay= is read there.
    "import tf_keras as keras\nimport os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\n"
    "opt = keras.optimizers.legacy.SGD(learning_rate=0.01, decay=1e-6)\n",
]
INVALID = [
    "import keras\nopt = keras.optimizers.SGD(learning_rate=0.01, decay=1e-6)  # expect: KC023\n",
    "import tf_keras\nopt = tf_keras.optimizers.Adam(lr=1e-4)  # expect: KC023\n",
    "from keras.layers import InputLayer\nlayer = InputLayer(input_shape=(4,))  # expect: KC023\n",
]


def _optimizer(ctx: Context, event) -> bool:
    canon = event.canon
    return canon.name.startswith("keras.optimizers.") and canon.short[:1].isupper() and "schedules" not in canon.name


def _legacy(ctx: Context, call: cst.Call) -> bool:
    return any(".optimizers.legacy" in s for s in ctx.spelled(call.func, call) or ())


def _keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == name), None)


def check(ctx: Context) -> Iterator[Hit]:
    seen: set[int] = set()
    for event in ctx.picture.calls:
        call, canon = event.node, event.canon
        if id(call) in seen or not isinstance(call.func, (cst.Name, cst.Attribute)):
            continue
        seen.add(id(call))
        major = ctx.keras_major(canon.flavor)
        if _optimizer(ctx, event) and not _legacy(ctx, call):
            if major == "3":
                decay = _keyword(call, "decay")
                # `decay=0.0` (Keras 2's documented default, copied into many calls) decays nothing
                # either way: nothing changes.
                if decay is not None and literal_number(decay.value) != 0:
                    yield Hit(decay.keyword, fmt={
                        "what": f"`{canon.short}(decay=...)` is ignored by Keras 3",
                        "why": "it logs \"Argument `decay` is no longer supported and will be ignored.\" and "
                               "trains at a constant rate, where Keras 2 applied lr / (1 + decay * step): use "
                               "`learning_rate=keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, "
                               "decay_rate=decay)`"}, fix=_decay_fix(ctx, call, canon.short, decay))
            elif canon.flavor == "tf_keras":
                lr = _keyword(call, "lr")
                if lr is not None:
                    fix = None
                    if call_arg(call, "learning_rate", None) is None:
                        fix = Fix.replace(lr.keyword, "learning_rate", "Pass `learning_rate=` (the rate then counts)",
                                          applicability="unsafe")
                    yield Hit(lr.keyword, fmt={
                        "what": f"`{canon.short}(lr=...)` is ignored by tf_keras",
                        "why": "tf_keras 2.21 logs that `lr` is deprecated and keeps the default learning rate"
                               + (f" ({canon.short}'s, {DEFAULT_RATE[canon.short]})" if canon.short in DEFAULT_RATE
                                  else "") + ", whatever `lr` says: pass `learning_rate=`"}, fix=fix)
        elif canon.name in ("keras.InputLayer", "keras.layers.InputLayer") and major == "3":
            arg = _keyword(call, "input_shape")
            if arg is not None:
                fix = None
                if call_arg(call, "shape", None) is None:
                    fix = Fix.replace(arg.keyword, "shape", "Pass `shape=`")
                yield Hit(arg.keyword, fmt={
                    "what": "`InputLayer(input_shape=...)` is deprecated in Keras 3",
                    "why": "it works with the warning \"Argument `input_shape` is deprecated. Use `shape` "
                           "instead.\": pass `shape=`"}, fix=fix)
    yield from _lr_stores(ctx)


def _decay_fix(ctx: Context, call: cst.Call, short: str, decay: cst.Arg) -> Fix | None:
    if any(a.star for a in call.args) or _keyword(call, "lr") is not None:
        return None  # KC008 renames `lr=` first; the next pass offers this fix
    spelling = ctx.spelling(SCHEDULE, call)
    if spelling is None:
        return None
    schedule, imports = spelling
    rate_arg = _keyword(call, "learning_rate") or next(
        (a for a in call.args[:1] if a.keyword is None), None)
    rate = ctx.code(rate_arg.value) if rate_arg is not None else DEFAULT_RATE.get(short)
    if rate is None:
        return None
    value = f"{schedule}({rate}, decay_steps=1, decay_rate={ctx.code(decay.value)})"
    if rate_arg is None:
        edits = (Edit(decay, f"learning_rate={value}"),)
    else:
        edits = (Edit(rate_arg.value, value), *remove_arg(call, decay))
    return Fix((*edits, *imports), "unsafe",
               "Apply the decay as Keras 2 did, through an InverseTimeDecay schedule (training changes: the rate "
               "now decays)")


def _lr_stores(ctx: Context) -> Iterator[Hit]:
    if ctx.keras_major(None) != "3":
        return
    for attr in ctx.attributes("lr"):
        parent = ctx.parent(attr)
        stored = (isinstance(parent, cst.AssignTarget) and parent.target is attr) or (
            isinstance(parent, (cst.AugAssign, cst.AnnAssign)) and parent.target is attr)
        if stored and ctx.keras_optimizer(attr.value):
            yield Hit(attr, fmt={"what": "`optimizer.lr = ...` is ignored by Keras 3",
                                 "why": "it sets a plain attribute and the learning rate stays what it was: "
                                        "assign `optimizer.learning_rate`"})
