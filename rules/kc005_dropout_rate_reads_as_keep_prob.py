"""A keep probability passed as `tf.nn.dropout`'s second argument, which TF2 reads as the rate.

## What it does
Flags `tf.nn.dropout(x, p)` (also `tf.compat.v2.nn.dropout`, any import
spelling) whose second argument is *positional* and reads like a TF1 keep
probability:

- a literal above 0.6 (`tf.nn.dropout(x, 0.8)`) in a method of a Keras
  `Layer`/`Model` subclass (`call()`, `train_step()`, helpers), or
- a name that says so (`keep_prob`, `self.keep_prob`, `keep_rate`, ...), anywhere.

A literal elsewhere is left alone: tests and data code use
`tf.nn.dropout(x, 0.8)` on purpose, e.g. to make a sparse tensor.

It stays silent on `rate=` written out (the author knew the TF2 signature),
on literals up to 0.6 (0.5 means the same either way, and 0.6 is a
legitimate rate, e.g. GAT's), on `1 - keep_prob`, on `keep_prob=` as a
keyword (a TypeError in TF2, a different problem), on
`tf.compat.v1.nn.dropout` (whose 2nd argument really is `keep_prob`), and in
files that use TF1-only APIs through `tf.` (`tf.placeholder`, `tf.Session`,
`tf.contrib`, `tf.get_variable`, ...): such code runs on TF1, where the
positional argument was `keep_prob` and the call was right.

## Why is this bad?
In TF1 `tf.nn.dropout(x, keep_prob)` kept that share of units; in TF2 the
same position is `rate`, the share to *drop*. Measured with TF 2.21
(KERAS_FACTS F2.10): `tf.nn.dropout(x, 0.8)` drops 80 % of the units and
scales the survivors by 5.0, where the TF1 reading kept 80 % (x1.25);
`tf.compat.v1.nn.dropout(x, 0.8)` still drops 20 %. The network trains with
four fifths of its activations zeroed and survivors amplified five-fold.
Nothing warns.

This is a separate rule from KC002 (dropout-ignores-training): it is wrong
wherever the call is - a gated branch, a `train_step`, a custom training
loop - and its fix is different.

## Example
    h = tf.nn.dropout(h, 0.8)          # meant: keep 80 %
    h = tf.nn.dropout(h, self.keep_prob)

## Use instead
    h = tf.nn.dropout(h, rate=0.2)
    h = tf.nn.dropout(h, rate=1 - self.keep_prob)

## Fix safety
For a literal, the fix writes the rate the author meant, `1 - p` computed exactly
(`tf.nn.dropout(h, 0.8)` -> `tf.nn.dropout(h, rate=0.2)`, as a keyword when no positional
argument follows). It is unsafe: it changes what the code does (80 % of the units dropped
become 20 %), and a model trained with the old value, or tuned around it, behaves
differently afterwards. Only the finding says that 0.8 was meant as a keep probability; a
name (`keep_prob`) gets no fix, since where its value comes from is not known.

## Confirm mode
`--confirm` calls the flagged call's own function (as the file spells it) the way the code does,
`fn(x, p)`, on a (64, 1024) tensor of ones (seed 0), with p the value the argument has: the
literal; a parameter's default or the argument a caller gives it; for `self.keep_prob`, what
`__init__` assigns it; else a keep probability synthesised from the name (0.8, said in the
evidence). Of the file, only the slice of imports, definitions and constants the call uses runs
(README, Confirm mode), and the expression that gives p. It measures the share of the 65,536
units that come out zero. `confirmed` when the call
drops what its argument gives (|dropped - p| < 0.02: p is read as the rate to drop) while the
argument reads as a keep probability (a literal above 0.6, a name like `keep_prob`) and p is not
0.5 (where both readings drop half). What the author meant no run shows; what the run shows is
that TF2 drops p, not 1 - p: on the fixtures 0.75 drops 74.9 %, 0.9 drops 90.0 %. `not
reproduced` otherwise: the clean look-alikes `tf.compat.v1.nn.dropout(x, 0.8)` (drops 19.9 %:
keep_prob, F2.10), `rate=1 - self.keep_prob`, `1.0 - self.keep_prob`, 0.5 and 0.6 (read as rates).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from kerascheck.rule import Context, Edit, Fix, Hit, Rule, cst, literal_number

THRESHOLD = 0.6  # literals above it read as keep probabilities
FUNCTIONS = frozenset({"tensorflow.nn.dropout"})  # tf.compat.v2.nn.dropout canonicalises to it
# Names that exist only in TF1 (not through `tf.compat.v1`): a file that uses one runs on TF1,
# where the positional argument was keep_prob and the call was right. Decided on resolved
# names, so `import tensorflow as tensorflow1` is TF1 code as much as `tf.placeholder` is.
TF1_ONLY = frozenset({
    "tensorflow.placeholder", "tensorflow.Session", "tensorflow.InteractiveSession", "tensorflow.get_variable",
    "tensorflow.variable_scope", "tensorflow.global_variables_initializer", "tensorflow.GraphKeys",
    "tensorflow.layers.dense", "tensorflow.truncated_normal", "tensorflow.random_normal", "tensorflow.to_float",
    "tensorflow.app.run", "tensorflow.Print", "tensorflow.train.AdamOptimizer",
    "tensorflow.train.GradientDescentOptimizer", "tensorflow.train.MomentumOptimizer",
    "tensorflow.train.RMSPropOptimizer", "tensorflow.train.AdagradOptimizer",
})
TF1_PREFIXES = ("tensorflow.contrib.", "tensorflow.flags.", "tensorflow.logging.")

RULE = Rule(
    "KC005", "dropout-rate-reads-as-keep-prob",
    "In TF2 the second argument of `tf.nn.dropout` is the rate to drop, not TF1's keep_prob, so `{arg}` "
    "drops {share} (write `rate=1 - keep_prob`)",
    severity="warning",
    # A spelling of tf.nn.dropout, and either a keep-probability name or a Keras class for a literal.
    needs=tuple((spelling, b"tensorflow", evidence) for spelling in (b"nn.dropout(", b"import dropout")
                for evidence in (b"keep", b"Layer", b"Model")),
    # The TF1 markers are anchors too, so that the functions using them are parsed.
    anchors=(*FUNCTIONS, *TF1_ONLY, *(p + "*" for p in TF1_PREFIXES)),
)

VALID = [
    # A literal outside any Keras layer: sparsifying test data on purpose.
    "import tensorflow as tf\nsparse = tf.sparse.from_dense(tf.nn.dropout(dense, 0.8))\n",
    "import tensorflow as tf\nh = tf.nn.dropout(h, rate=0.8)\n",
    "import tensorflow as tf\nh = tf.nn.dropout(h, 0.5)\nh = tf.nn.dropout(h, 1 - keep_prob)\n",
    "import tensorflow as tf\nh = tf.compat.v1.nn.dropout(h, 0.8)\n",
    # TF1 code: positional keep_prob was right there, whatever the module is called.
    "import tensorflow as tf\nkeep_prob = tf.placeholder(tf.float32)\nh = tf.nn.dropout(h, keep_prob)\n",
    "import tensorflow as tensorflow1\nkeep_prob = tensorflow1.placeholder(tensorflow1.float32)\n"
    "h = tensorflow1.nn.dropout(h, keep_prob)\n",
]
INVALID = [
    "import tensorflow as tf\n"
    "class Block(tf.keras.layers.Layer):\n"
    "    def call(self, h, training=None):\n"
    "        if training:\n"
    "            h = tf.nn.dropout(h, 0.8)  # expect: KC005\n"
    "        return h\n",
    "from tensorflow import nn\n"
    "def block(h, keep_prob):\n"
    "    return nn.dropout(h, keep_prob)  # expect: KC005\n",
    # `tf` bound to something else: not TF1 code, whatever `tf.placeholder` would mean.
    "import tensorflow as tf2\nimport mylib as tf\nx = tf.placeholder()\n"
    "def block(h, keep_prob):\n"
    "    return tf2.nn.dropout(h, keep_prob)  # expect: KC005\n",
]


def _keep_name(expr: cst.BaseExpression) -> bool:
    name = expr.attr.value if isinstance(expr, cst.Attribute) else expr.value if isinstance(expr, cst.Name) else ""
    lowered = name.lower()
    return "keep" in lowered and ("prob" in lowered or "rate" in lowered or lowered.startswith("keep"))


def _second_positional(call: cst.Call) -> cst.BaseExpression | None:
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in positional) or len(positional) < 2:
        return None
    return positional[1].value


def _rate_fix(ctx: Context, call: cst.Call, arg: cst.BaseExpression) -> Fix | None:
    """`p` -> `rate=1 - p`, the difference computed exactly from the literal as written."""
    try:
        rate = Decimal(1) - Decimal(ctx.code(arg).replace("_", ""))
    except InvalidOperation:
        return None
    text = format(rate.normalize(), "f")
    positional = [a for a in call.args if a.keyword is None]
    node = positional[1]
    last = node is positional[-1]
    content = f"rate={text}" if last else text
    return Fix((Edit(node, content),), "unsafe", f"Write the drop rate: `{content}` (1 - {ctx.code(arg)})")


def _tf1(ctx: Context) -> bool:
    used = ctx.picture.references
    return bool(used & TF1_ONLY) or any(name.startswith(TF1_PREFIXES) for name in used)


def check(ctx: Context) -> Iterator[Hit]:
    seen: set[int] = set()
    tf1: bool | None = None
    for event in ctx.picture.calls:
        if event.canon.name not in FUNCTIONS or id(event.node) in seen:
            continue
        seen.add(id(event.node))
        arg = _second_positional(event.node)
        if arg is None:
            continue
        value = literal_number(arg)
        if value is not None:
            # A literal alone is weaker evidence: only in a Keras layer's or model's methods,
            # not in tests or data code (`tf.sparse.from_dense(tf.nn.dropout(x, 0.8))` sparsifies on purpose).
            if not THRESHOLD < value < 1 or event.site.cls is None or event.site.cls.kind == "constraint":
                continue
            share = f"{value * 100:.0f} % of the units"
            fix = _rate_fix(ctx, event.node, arg)
        elif _keep_name(arg):
            share = "the share of units meant to be kept"
            fix = None
        else:
            continue
        if tf1 is None:
            tf1 = _tf1(ctx)
        if tf1:
            return
        yield Hit(event.node, fmt={"arg": ctx.code(arg), "share": share}, fix=fix)
