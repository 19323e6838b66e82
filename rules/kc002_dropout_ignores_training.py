"""Raw functional dropout in a layer's `call()` that is not gated on `training`.

## What it does
Flags a call to a raw dropout *function* - `tf.nn.dropout`,
`tf.compat.v1.nn.dropout` / `tf.compat.v2.nn.dropout`, `keras.random.dropout`,
the legacy `keras.backend.dropout` (`tf.keras.backend.dropout`, `K.dropout`)
or `tf.nn.experimental.stateless_dropout`, under any import spelling or alias -
that runs on every call of a model:

- inside `call()` of a Keras `Layer`/`Model` subclass, or inside a helper that
  `call()` reaches (`self._helper(x, training)` or a function of the same file);
- inside the function given to a `Lambda` layer (an inline `lambda` or a named
  function of the same file),

when nothing gates it on the training flag, and its rate is not a literal 0
(for `tf.compat.v1.nn.dropout`, whose 2nd positional argument is `keep_prob`:
a keep probability that is not a literal 1).

Gated, so never flagged: the call under `if training:` (or any condition that
mentions the flag, a name computed from it, `learning_phase()`, a `mode` that
is compared with TRAIN/PREDICT, ...); after an early `if not training: return x`;
in a conditional expression on the flag; in a function or lambda handed to
`keras.ops.cond` / `tf.cond` / `smart_cond` / `tf.where` / `K.switch` with the
flag, or anywhere inside `K.in_train_phase(...)` / `K.in_test_phase(...)`; a
rate computed from the flag (`rate=0.5 if training else 0.0`); a helper whose
call site in `call()` is gated, or that gates on the flag it is given; a
dropout whose result is only used in gated code, or not used at all. Also
silent: dropout *layers* (`self.dropout(x)`: Keras forwards the flag to
sublayers, F2.4), `training=True` on purpose, dropout in `train_step` or
outside any layer, and deliberate always-on Monte-Carlo dropout - a class,
module, docstring, function or comment that says MC / Monte Carlo / Bayesian /
concrete / permanent / test-time dropout, or says in prose that dropout is
applied "during training and inference", "always", "at test time", "at
inference" (not after a negation: "no dropout at inference", "disabled at test
time", "only during training" are no such intent), or a class that is named
for uncertainty or made in a function about uncertainty estimates
(`build_uncertainty_model`, code computing the predictive variance). A comment
that merely mentions dropout is not intent.

`call()` here includes an overridden `__call__` of a Layer: Keras's machinery,
and its training flag, never reach that code.

## Why is this bad?
Keras turns off its `Dropout` *layers* at inference by passing
`training=False` down to them; a raw dropout function never sees that flag.
Measured with TF 2.21 / Keras 3.15 (KERAS_FACTS F2.1-F2.3): in `call()`,
`tf.nn.dropout(x, 0.5)`, `keras.random.dropout(x, 0.5)`,
`tf.keras.backend.dropout(x, 0.5)` and `tf.compat.v1.nn.dropout(x, 0.5)`
zero ~50 % of the units in `predict()`, and two `predict()` calls on the same
input give different outputs; the same in a `Lambda` layer; a `training`
parameter that the body ignores changes nothing. `stateless_dropout` zeroes
50 % at predict too, the same units every time, so predictions are
deterministic and still wrong. Gated forms drop 0 % at predict and ~50 % in
training (F2.6).

`tf.cond(training, ...)` counts as gated here: in Keras 3 it does not even
build (F2.7), which is a different problem.

The TF1 -> TF2 trap of a keep probability passed as `tf.nn.dropout`'s 2nd
positional argument (F2.10) is its own rule, KC005
`dropout-rate-reads-as-keep-prob`: it is wrong anywhere (a training loop, a
`train_step`, a gated branch), needs its own fix (`rate=1 - keep_prob`) and
its own evidence (the literal or the name of the argument), and a call can
have either bug without the other.

Known misses: a dropout alias with no "drop" in its name (`as d`), a
backend alias other than `K` or `backend` (`KB.dropout`), the function
imported in a list (`from tensorflow.nn import relu, dropout`), helpers more
than five calls deep, and helpers or subclasses in other files.

## Example
    class NoisyDense(keras.layers.Layer):
        def call(self, x, training=None):
            x = self.dense(x)
            return tf.nn.dropout(x, rate=0.3)  # drops 30 % at predict() too

## Use instead
    class NoisyDense(keras.layers.Layer):
        def call(self, x, training=None):
            x = self.dense(x)
            if training:
                x = tf.nn.dropout(x, rate=0.3)
            return x

or a `keras.layers.Dropout(0.3)` sublayer, which Keras switches off at inference.

## Confirm mode
`--confirm` builds the flagged Layer/Model class from the file (the slice of imports, definitions
and constants it uses - README, Confirm mode; never other module-level code): its decorators and
class body run when it is defined, then its `__init__`, `build()` and `call()`. It is built with
its constructor defaults, or with the arguments of a
`Cls(...)` call of the file when they are all literals, else with values synthesised from the
required parameters' names and type hints (`units=8`, said in the evidence), or the flagged
`Lambda` layer from its own source. It calls it eagerly with `training=False`, as `predict()`
does (F2.5), on N(0, 1) inputs (seed 0) of the shape the code gives it (the `Input(...)` and the
layers before the class, a `build()` call, an array it is called on; batch 4), else (4, 16), else
(4, 8, 16), else (2, 8, 8, 4): one per required input of `call()`, plus an all-True `mask` if
`call()` takes one. tf_keras classes are built with Keras 2. Then it calls
the same object again with every dropout function (`tf.nn.dropout`, `tf.compat.v1/v2.nn.dropout`,
`tf.nn.experimental.stateless_dropout`, `keras.random.dropout`, `tf.keras.backend.dropout`,
`tf_keras.backend.dropout`) replaced by the identity - in the modules that hold them, the
file's namespace and the layer's attributes; restored afterwards - and compares the two outputs.
Comparing two predictions would not do: seeded and stateless dropout give the same wrong output
every time (F2.3). `confirmed` when more than 1 % of the output values differ: measured 48-100 %
on the positive fixtures, 0.0 % on every clean look-alike (gated forms, rate 0, a result thrown
away or deselected at inference). The evidence also gives the share of zeros in both runs, how
often a dropout function ran, and whether two runs as written differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kerascheck.rule import Context, Hit, LayerDef, Rule, Site, call_arg, cst, literal_number, name_words

# Canonical name -> (display name, name of the rate argument, is it a keep probability?).
# Each has a measurement in KERAS_FACTS.md behind it (F2.1, F2.3, F2.10).
DROPOUTS: dict[str, tuple[str, str, bool]] = {
    "tensorflow.nn.dropout": ("`tf.nn.dropout`", "rate", False),  # also tf.compat.v2.nn.dropout
    "tensorflow.compat.v1.nn.dropout": ("`tf.compat.v1.nn.dropout`", "keep_prob", True),
    "keras.random.dropout": ("`keras.random.dropout`", "rate", False),
    "keras.backend.dropout": ("`keras.backend.dropout`", "level", False),
    "tensorflow.nn.experimental.stateless_dropout": ("`tf.nn.experimental.stateless_dropout`", "rate", False),
}
STATELESS = "tensorflow.nn.experimental.stateless_dropout"
# A spelling of a dropout function (`self.dropout(` alone is a sublayer), and a place to call it.
_SPELLINGS = ((b"nn.dropout(",), (b"random.dropout(",), (b"backend.dropout(",), (b"K.dropout(",),
              (b"stateless_dropout(",), (b"import dropout",))

RULE = Rule(
    "KC002", "dropout-ignores-training",
    "{func} in {where} is not gated on `training`, so it keeps dropping units{extra} in predict() "
    "and evaluate(), not only in fit()",
    severity="error",
    needs=tuple((*spelling, where) for spelling in _SPELLINGS for where in (b"def call", b"def __call__", b"Lambda")),
    anchors=(*DROPOUTS, "keras.layers.Lambda"),
)

# Deliberate always-on (Monte-Carlo) dropout, said in a name, a docstring or a comment.
MC_TEXT = re.compile(
    r"monte[\s_-]*carlo|\bmc\b|\bmc[\s_-]*drop|mcdrop|bayesian|concrete[\s_-]*drop|perma(?:nent)?[\s_-]*drop"
    r"|always[\s_-]*on\b|test[\s_-]*time[\s_-]*drop",
    re.I)
_PHASE = r"(?:inference|test(?:ing)?|prediction|predict(?:ing)?|eval(?:uation)?|serving)(?:[\s_-]*time)?"
# Said in prose, each only where no negation comes just before it ("no dropout at inference",
# "dropout is disabled at test time" are the opposite).
MC_PROSE = re.compile(
    # "during training and inference", "at both train and test time", "in training as well as prediction"
    rf"(?:during|in|at|for)\s+(?:both\s+)?(?:the\s+)?(?:training|train)(?:[\s_-]*time)?\s*(?:and|&|/|as\s+well\s+as)\s*"
    rf"(?:at\s+|during\s+|in\s+|for\s+)?(?:the\s+)?{_PHASE}"
    # "always apply", "always applied", "always active", "always drops"
    r"|always\s+(?:appl(?:y|ied|ies|ying)|active|enabled|drop\w*|on\b|keep\w*|sample\w*)"
    # "dropout at test time"; "keep dropout on during inference", "also at prediction", "even at test time"
    rf"|(?:dropout|drop)\s+(?:at|during|in)\s+(?:the\s+)?{_PHASE}\b"
    rf"|(?:keep|keeps|kept|stays?|remains?|also|even|enabled?|active|appl(?:y|ied|ies)|on)[^\w.;:!?\n]+"
    rf"(?:[\w-]+[^\w.;:!?\n]+){{0,3}}?(?:at|during|in|for)\s+(?:the\s+)?{_PHASE}\b"
    # what Monte-Carlo dropout is for
    r"|\buncertaint(?:y|ies)\b|\bepistemic\b|\bpredictive\s+(?:variance|entropy|distribution|uncertaint)"
    r"|\bstochastic\s+(?:forward|pass|passes|predictions?|inference)",
    re.I)
_NEGATION = re.compile(r"\b(?:not|no|never|off|without|instead|disabled?|deactivated?|turned|unlike|except|rather"
                       r"|than|skip\w*|removed?|only\s+(?:in|during|at|for)\s+train\w*)\b|n't\b", re.I)


def says_mc(text: str) -> bool:
    """Does `text` say the dropout is meant to stay on at inference (Monte-Carlo dropout)?"""
    if not text:
        return False
    if MC_TEXT.search(text):
        return True
    for match in MC_PROSE.finditer(text):
        # The clause before the phrase, up to a line or sentence break.
        before = text[max(0, match.start() - 50): match.start()]
        before = re.split(r"[.;:!?\n]|#", before)[-1]
        if not _NEGATION.search(before) and not _NEGATION.search(match.group(0)):
            return True
    return False


_MC_NAME_TOKENS = frozenset({"mc", "monte", "bayesian", "bayes", "concrete", "perma", "permanent", "always"})

VALID = [
    # Gated on training.
    "import tensorflow as tf\nimport keras\n"
    "class D(keras.layers.Layer):\n"
    "    def call(self, x, training=None):\n"
    "        if training:\n"
    "            x = tf.nn.dropout(x, 0.5)\n"
    "        return x\n",
    # Early return when not training.
    "import keras\n"
    "class D(keras.layers.Layer):\n"
    "    def call(self, x, training=False):\n"
    "        if not training:\n"
    "            return x\n"
    "        return keras.random.dropout(x, 0.5)\n",
    # A rate computed from training; a literal rate of 0.
    "import tensorflow as tf\nimport keras\n"
    "class D(keras.layers.Layer):\n"
    "    def call(self, x, training=None):\n"
    "        x = tf.nn.dropout(x, rate=0.5 if training else 0.0)\n"
    "        return tf.nn.dropout(x, 0.0)\n",
    # Legacy Keras: in_train_phase picks the dropped value only in training.
    "from tensorflow.keras import backend as K\nfrom tensorflow import keras\n"
    "class D(keras.layers.Layer):\n"
    "    def call(self, x, training=None):\n"
    "        return K.in_train_phase(K.dropout(x, 0.5), x, training=training)\n",
    # A Dropout sublayer: Keras forwards the flag.
    "import keras\n"
    "class D(keras.layers.Layer):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.dropout = keras.layers.Dropout(0.5)\n"
    "    def call(self, x):\n"
    "        return self.dropout(x)\n",
    # Deliberate Monte-Carlo dropout.
    "import tensorflow as tf\nimport keras\n"
    "class MCDropout(keras.layers.Layer):\n"
    "    def call(self, x):\n"
    "        return tf.nn.dropout(x, 0.5)\n",
    # Not a layer; a user's own dropout function.
    "import tensorflow as tf\nfrom mylib import dropout\nimport keras\n"
    "def augment(x):\n    return tf.nn.dropout(x, 0.5)\n"
    "class D(keras.layers.Layer):\n"
    "    def call(self, x):\n"
    "        return dropout(x, 0.5)\n",
]
INVALID = [
    "import tensorflow as tf\n"
    "class D(tf.keras.layers.Layer):\n"
    "    def call(self, x, training=None):\n"
    "        return tf.nn.dropout(x, rate=0.3)  # expect: KC002\n",
    "from keras import layers, random\n"
    "out = layers.Lambda(lambda t: random.dropout(t, 0.5))(inp)  # expect: KC002\n",
    "import tensorflow.compat.v1 as tf1\nfrom tensorflow import keras\n"
    "class M(keras.Model):\n"
    "    def call(self, x):\n"
    "        return self._regularize(x)\n"
    "    def _regularize(self, x):\n"
    "        return tf1.nn.dropout(x, keep_prob=0.8)  # expect: KC002\n",
]



def mc_name(name: str) -> bool:
    return any(t in _MC_NAME_TOKENS for t in name_words(name)) or bool(MC_TEXT.search(name))


def drops(call: cst.Call, name: str) -> bool:
    """False when the rate is a literal 0 (or keep_prob a literal 1), or the call cannot run."""
    _, keyword, keep = DROPOUTS[name]
    if name == "tensorflow.nn.dropout":
        legacy_keep = call_arg(call, "keep_prob", None)  # TF1 spelling
        if legacy_keep is not None:
            value = literal_number(legacy_keep)
            return value is None or value != 1
    if keep:
        given = call_arg(call, "keep_prob", 1)
        if given is not None:
            value = literal_number(given)
            return value is None or value != 1
        rate = call_arg(call, "rate", None)
    else:
        rate = call_arg(call, keyword, 1)
    if rate is None:
        return False  # no rate: a TypeError, not this rule's business
    value = literal_number(rate)
    # A literal 0 drops nothing; a literal >= 1 raises in TF2 (F2.10) or is TF1's no-op keep_prob.
    return value is None or 0 < value < 1


def lambda_layer(ctx: Context, fn: cst.CSTNode) -> LayerDef | None:
    """The Lambda layer whose function `fn` (a lambda, or a def named in `Lambda(fn)`) is."""
    for layer in ctx.picture.lambdas:
        given = layer.arg("function", 0)
        if given is fn:
            return layer
        if isinstance(given, cst.Name) and isinstance(fn, cst.FunctionDef) and given.value == fn.name.value \
                and ctx.function_named(given.value, layer.node) is fn:
            return layer
    return None


def _gated(ctx: Context, node: cst.CSTNode, site: Site) -> bool:
    """Gated in its own function (through nested defs and lambdas, but not past the function
    of a Lambda layer, which runs whenever the layer does), or where an inlined helper was
    called from."""
    current: Site | None = site
    while current is not None:
        layer_fn = next((a for a in ctx.ancestors(node) if isinstance(a, (cst.FunctionDef, cst.Lambda))
                         and lambda_layer(ctx, a) is not None), None)
        if ctx.training_gated(node, current.flags, within=layer_fn):
            return True
        if current.caller is None:
            return False
        node, current = current.caller, current.outer
    return False


def deliberate(ctx: Context, site: Site) -> bool:
    """Monte-Carlo dropout said in a name, a docstring or a comment of the code on the way, or a
    file about uncertainty estimates (where always-on dropout is the method)."""
    if says_mc(ctx.docstring()):
        return True
    for current in site.chain():
        fn = current.function
        if fn is None:
            continue
        if says_mc(ctx.code(fn)):
            return True
        if isinstance(fn, cst.FunctionDef) and mc_name(fn.name.value):
            return True
        outer = ctx.enclosing_function(fn)
        if outer is not None and (mc_name(outer.name.value) or says_mc(ctx.code(outer))):
            return True
    cls = site.cls
    if cls is not None:
        if mc_name(cls.name) or says_mc(ctx.docstring(cls.node)) or any(
                says_mc(ctx.code(cls.methods[m])) for m in ("call", "__call__", "__init__") if m in cls.methods):
            return True
        if _UNCERTAINTY.search(cls.name):
            return True
        for instance in ctx.picture.instances:  # the class is used for uncertainty estimates
            if instance.canon.name != f"<local>.{cls.name}":
                continue
            for where in instance.site.chain():
                fn = where.function
                if isinstance(fn, cst.FunctionDef) and (mc_name(fn.name.value) or _UNCERTAINTY.search(ctx.code(fn))):
                    return True
    return False


_UNCERTAINTY = re.compile(r"uncertaint(?:y|ies)|\bepistemic|predictive_?(?:variance|entropy|std)|\bmc_?samples\b"
                          r"|\bnum_mc\b|\bn_mc\b", re.I)


def _where(ctx: Context, site: Site) -> tuple[str, LayerDef | None] | None:
    """How the message names the place that runs the dropout, and the Lambda layer if it is
    one; None when the code is not run by a layer at inference."""
    chain = list(site.chain())
    root = chain[-1]

    def outermost(fn):  # a def nested in another is part of it
        while isinstance(fn, cst.FunctionDef) and ctx.enclosing_function(fn) is not None:
            fn = ctx.enclosing_function(fn)
        return fn

    method = outermost(root.function)
    helpers = [s.function for s in chain[:-1]
               if isinstance(s.function, cst.FunctionDef) and outermost(s.function) is not method]
    inner = f"`{helpers[0].name.value}()` (called from {{}})" if helpers else "{}"
    for current in chain:
        fn = current.function
        if fn is None:
            continue
        layer = lambda_layer(ctx, fn)
        if layer is not None:
            if isinstance(fn, cst.Lambda):
                return "the function of a Lambda layer", layer
            return f"`{fn.name.value}()`, the function of a Lambda layer,", layer
    if root.in_call and root.cls is not None and isinstance(method, cst.FunctionDef):
        return inner.format(f"`{method.name.value}()` of {root.cls.name}"), None
    return None


def lambda_in_model(ctx: Context, layer: LayerDef) -> bool:
    """A Lambda layer built and applied where inference runs it (not only for training)."""
    if ctx.training_gated(layer.node, uses=False):
        return False
    enclosing = ctx.enclosing_function(layer.node)
    if enclosing is not None and mc_name(enclosing.name.value):
        return False
    apps = ctx.picture.applications(layer)
    if not apps and layer.site.cls is not None:
        return False  # stored on a layer and applied we do not know how: unsure
    return not apps or any(not ctx.training_gated(a.node, uses=False) for a in apps)


def check(ctx: Context) -> Iterator[Hit]:
    seen: set[int] = set()
    for event in ctx.picture.calls:
        name = event.canon.name
        if name not in DROPOUTS or id(event.node) in seen:
            continue
        site = event.site
        where = _where(ctx, site)
        if where is None:
            continue
        text, layer = where
        if layer is not None and not lambda_in_model(ctx, layer):
            continue
        call = event.node
        if not drops(call, name):
            continue
        rest = [a for i, a in enumerate(call.args) if i > 0 or a.keyword is not None]
        if any(ctx.mentions_training(a.value, site.flags) for a in rest) or _gated(ctx, call, site):
            continue
        if deliberate(ctx, site):
            continue
        seen.add(id(call))
        extra = " (the same ones on every call)" if name == STATELESS else ""
        owner = next((s.cls for s in site.chain() if s.cls is not None), None)
        yield Hit(call, fmt={"func": DROPOUTS[name][0], "where": text, "extra": extra},
                  data={"function": name, "owner": owner, "lambda": layer})
