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
concrete / permanent / test-time dropout.

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
than three calls deep, and helpers or subclasses in other files.

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
`--confirm` builds the flagged Layer/Model class from the file (its imports and the definitions
it uses; never module-level code) with its constructor defaults, or with the arguments of a
`Cls(...)` call of the file when they are all literals (else `could not build`), or the flagged
`Lambda` layer from its own source. It calls it eagerly with `training=False`, as `predict()`
does (F2.5), on N(0, 1) inputs (seed 0) of shape (4, 16), else (4, 8, 16), else (2, 8, 8, 4):
one per required input of `call()`, plus an all-True `mask` if `call()` takes one. Then it calls
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

import libcst as cst

from kerascheck.picture import LayerDef, Picture, call_arg, literal_number
from kerascheck.rule import Hit

CODE, NAME = "KC002", "dropout-ignores-training"
SEVERITY = "error"
MESSAGE = ("{func} in {where} is not gated on `training`, so it keeps dropping units{extra} in predict() "
           "and evaluate(), not only in fit()")
# A spelling of a dropout function (`self.dropout(` alone is a sublayer), and a place to call it.
_SPELLINGS = ((b"nn.dropout(",), (b"random.dropout(",), (b"backend.dropout(",), (b"K.dropout(",),
              (b"stateless_dropout(",), (b"import dropout",))
NEEDS = tuple((*spelling, where) for spelling in _SPELLINGS for where in (b"def call", b"Lambda"))
# "drop" keeps helpers that call an alias (`from tensorflow.nn import dropout as drop`);
# "training" keeps the helpers that forward the flag.
KEEP = ("drop", "Lambda", "training")

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
MAX_DEPTH = 3  # helper calls followed from call()
MAX_FLOW = 24  # assignments followed from a dropout's result to its uses

# Words in a name that make a condition "about the training phase". Generous on purpose:
# a condition we misread as gating costs a miss, one we miss costs a false positive.
_PHASE_TOKENS = frozenset({
    "phase", "deterministic", "infer", "inference", "inferring", "predict", "prediction", "predicting",
    "eval", "evaluate", "evaluation", "evaluating", "test", "testing", "mc", "monte", "stochastic",
})
# Calls that choose between a dropped and an undropped value by a predicate.
_SELECTORS = frozenset({"cond", "smart_cond", "switch", "case", "where", "select", "while_loop"})
# Calls that only apply their first argument in training, whatever else they are given.
_PHASE_CALLS = frozenset({"in_train_phase", "in_test_phase"})
# Deliberate always-on (Monte-Carlo) dropout, said in a name, a docstring or a comment.
_MC_TEXT = re.compile(
    r"monte[\s_-]*carlo|\bmc\b|\bmc[\s_-]*drop|mcdrop|bayesian|concrete[\s_-]*drop|perma(?:nent)?[\s_-]*drop"
    r"|always[\s_-]*on|test[\s_-]*time[\s_-]*drop|(?:dropout|drop)\s+(?:at|during|in)\s+"
    r"(?:inference|test|testing|prediction|predict)",
    re.I)
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


# ----------------------------------------------------------------- helpers


def _tokens(identifier: str) -> list[str]:
    words = []
    for part in identifier.split("_"):
        words.extend(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", part))
    return [w.lower() for w in words]


def _phase_word(identifier: str) -> bool:
    return any(t.startswith("train") or t in _PHASE_TOKENS for t in _tokens(identifier))


def _last_name(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return None


def _head_name(expr: cst.BaseExpression) -> str | None:
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return expr.value if isinstance(expr, cst.Name) else None


def _walk(node: cst.CSTNode, into_defs: bool = True) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if current is not node and not into_defs and isinstance(current, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            continue
        stack.extend(reversed(current.children))


def _docstring(body) -> str:
    """The docstring of a class or function body, or of a module (its statements)."""
    if isinstance(body, cst.IndentedBlock):
        statements = body.body
    else:
        statements = body if isinstance(body, (list, tuple)) else ()
    if statements:
        first = statements[0]
        if isinstance(first, cst.SimpleStatementLine) and first.body and isinstance(first.body[0], cst.Expr):
            value = first.body[0].value
            if isinstance(value, (cst.SimpleString, cst.ConcatenatedString)):
                text = value.evaluated_value
                return text if isinstance(text, str) else ""
    return ""


def _module_docstring(module: cst.Module) -> str:
    return _docstring(module.body)


# -------------------------------------------------------------- one function


class _Body:
    """A function (FunctionDef or Lambda) being analysed, with parent links and source order."""

    def __init__(self, node: cst.FunctionDef | cst.Lambda, flags: frozenset[str]) -> None:
        self.node = node
        self.parent: dict[int, cst.CSTNode] = {}
        self.order: dict[int, int] = {}
        self.names: list[cst.Name] = []
        assigns: list[tuple[cst.BaseExpression, cst.BaseExpression]] = []
        stack: list[cst.CSTNode] = [node]
        index = 0
        while stack:
            current = stack.pop()
            self.order[id(current)] = index
            index += 1
            if isinstance(current, cst.Name):
                self.names.append(current)
            elif isinstance(current, cst.Assign):
                assigns.extend((t.target, current.value) for t in current.targets)
            elif isinstance(current, (cst.AnnAssign, cst.AugAssign)) and current.value is not None:
                assigns.append((current.target, current.value))
            elif isinstance(current, cst.NamedExpr):
                assigns.append((current.target, current.value))
            children = current.children
            for child in children:
                self.parent[id(child)] = current
            stack.extend(reversed(children))
        # The flag's names: given ones, plus every name computed from a phase expression.
        self.memo: dict[tuple[int, bool], bool] = {}
        self.flags = set(flags)
        changed = True
        while changed:
            changed = False
            for target, value in assigns:
                if isinstance(target, cst.Name) and target.value not in self.flags and self.mentions(value, True):
                    self.flags.add(target.value)
                    changed = True

    def mentions(self, expr: cst.CSTNode, deriving: bool = False) -> bool:
        """Does `expr` mention the training phase?"""
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.Name):
                if node.value in self.flags or _phase_word(node.value):
                    return True
            elif isinstance(node, cst.Attribute):
                if _phase_word(node.attr.value):
                    return True
                stack.append(node.value)
                continue
            elif isinstance(node, cst.SimpleString):
                text = node.evaluated_value
                if isinstance(text, str) and text.isidentifier() and _phase_word(text):
                    return True
            elif deriving and isinstance(node, cst.Arg) and node.keyword is not None \
                    and node.keyword.value == "training":
                # `h = self.block(x, training=training)` does not make `h` a flag.
                continue
            stack.extend(node.children)
        return False

    def end(self, node: cst.CSTNode) -> int:
        return max(self.order.get(id(n), 0) for n in _walk(node))

    def references(self, name: str, after: int, exclude: cst.CSTNode | None = None,
                   killed: bool = False) -> list[cst.Name]:
        """Loads of `name` from source position `after` on; with `killed`, only until the
        statement that next assigns it a new value (its own right-hand side included)."""
        inside = {id(n) for n in _walk(exclude)} if exclude is not None else set()
        until = None
        if killed:
            for ref in self.names:
                if ref.value == name and self.order[id(ref)] >= after and isinstance(
                        self.parent.get(id(ref)), cst.AssignTarget):
                    stmt = self.parent.get(id(self.parent[id(ref)]))
                    end = self.end(stmt) if stmt is not None else self.order[id(ref)]
                    until = end if until is None else min(until, end)
        found = []
        for ref in self.names:
            if ref.value != name or self.order[id(ref)] < after or id(ref) in inside:
                continue
            if until is not None and self.order[id(ref)] > until:
                continue
            parent = self.parent.get(id(ref))
            if isinstance(parent, (cst.FunctionDef, cst.ClassDef, cst.AssignTarget, cst.Param)) or (
                    isinstance(parent, (cst.AugAssign, cst.AnnAssign, cst.NamedExpr)) and parent.target is ref) or (
                    isinstance(parent, cst.Attribute) and parent.attr is ref):
                continue
            found.append(ref)
        return found

    def _early_exit(self, stmt: cst.CSTNode) -> bool:
        if not isinstance(stmt, cst.If) or not self.mentions(stmt.test):
            return False
        return any(isinstance(n, (cst.Return, cst.Raise)) for n in _walk(stmt, into_defs=False))

    def gated(self, node: cst.CSTNode, depth: int = 0, flow: bool = True) -> bool:
        """Is `node` only evaluated (or, with `flow`, only used) when the model trains?"""
        key = (id(node), flow)
        if key in self.memo:
            return self.memo[key]
        if depth > MAX_FLOW:
            return True  # unsure: stay silent
        self.memo[key] = True  # a cycle through a loop adds nothing
        result = self._gated(node, depth, flow)
        self.memo[key] = result
        return result

    def _gated(self, node: cst.CSTNode, depth: int, flow: bool) -> bool:
        cur = node
        while cur is not self.node:
            par = self.parent.get(id(cur))
            if par is None:
                return True
            if isinstance(par, (cst.If, cst.While, cst.IfExp)) and cur is not par.test and self.mentions(par.test):
                return True
            if isinstance(par, cst.BooleanOperation) and cur is par.right and self.mentions(par.left):
                return True
            if isinstance(par, cst.Expr) and cur is par.value and cur is node:
                return True  # `tf.nn.dropout(x, 0.5)` as a statement: its result is thrown away
            if isinstance(par, cst.Arg):
                call = self.parent.get(id(par))
                if isinstance(call, cst.Call):
                    name = _last_name(call.func)
                    if name in _PHASE_CALLS:
                        return True
                    if name in _SELECTORS and any(self.mentions(a.value) for a in call.args):
                        return True
            if isinstance(par, cst.IndentedBlock):
                for stmt in par.body:
                    if stmt is cur:
                        break
                    if self._early_exit(stmt):
                        return True
            if isinstance(cur, cst.FunctionDef) and cur is not node:
                # A nested function runs where it is referenced.
                refs = self.references(cur.name.value, 0, exclude=cur)
                if all(self.gated(r, depth + 1, flow) for r in refs):
                    return True
            if flow and isinstance(par, (cst.Assign, cst.AugAssign, cst.AnnAssign)) and cur is par.value:
                targets = [t.target for t in par.targets] if isinstance(par, cst.Assign) else [par.target]
                if len(targets) == 1 and isinstance(targets[0], cst.Name):
                    stmt = self.parent.get(id(par), par)
                    refs = self.references(targets[0].value, self.end(stmt) + 1, killed=True)
                    # Gated if every later use is (an unused result changes nothing).
                    if all(self.gated(r, depth + 1) for r in refs):
                        return True
            cur = par
        return False


# ------------------------------------------------------------------- rule


class _Checker:
    def __init__(self, pic: Picture) -> None:
        self.pic = pic
        self.names = pic.names
        self.module_funcs: dict[str, cst.FunctionDef] = {}
        counts: dict[str, int] = {}
        for stmt in pic.module.body:
            if isinstance(stmt, cst.FunctionDef):
                counts[stmt.name.value] = counts.get(stmt.name.value, 0) + 1
                self.module_funcs[stmt.name.value] = stmt
        root = self.names.root.bindings
        self.module_funcs = {n: f for n, f in self.module_funcs.items()
                             if counts[n] == 1 and len(root.get(n, ())) == 1}
        self.hits: dict[int, Hit] = {}
        self.bodies: dict[int, _Body] = {}
        self._module_doc: bool | None = None

    # -- deliberate Monte-Carlo dropout ----------------------------------

    def module_mc(self) -> bool:
        if self._module_doc is None:
            self._module_doc = bool(_MC_TEXT.search(_module_docstring(self.pic.module)))
        return self._module_doc

    def text_mc(self, node: cst.CSTNode | None) -> bool:
        if node is None:
            return False
        return bool(_MC_TEXT.search(self.pic.module.code_for_node(node)))

    @staticmethod
    def name_mc(name: str) -> bool:
        return any(t in _MC_NAME_TOKENS for t in _tokens(name)) or bool(_MC_TEXT.search(name))

    # -- finding dropouts ---------------------------------------------------

    def scope_of(self, fn: cst.CSTNode, outer):
        return self.names.scope_of(fn) if isinstance(fn, cst.FunctionDef) else outer

    def dropouts(self, body: _Body, scope) -> Iterator[tuple[cst.Call, str]]:
        """(call, canonical name) of every dropout call in the body, nested functions included."""
        yield from self._dropouts(body.node, scope, frozenset(), top=True)

    def _dropouts(self, node, scope, shadowed: frozenset[str], top: bool = False):
        if isinstance(node, cst.FunctionDef) and not top:
            scope = self.names.scope_of(node)
            shadowed = frozenset()
        elif isinstance(node, cst.Lambda):
            params = node.params
            shadowed = shadowed | {p.name.value for p in (*params.posonly_params, *params.params,
                                                          *params.kwonly_params)}
        elif isinstance(node, cst.ClassDef):
            return
        if isinstance(node, cst.Call) and isinstance(node.func, (cst.Name, cst.Attribute)):
            if _head_name(node.func) not in shadowed:
                canon = self.pic.resolve(node.func, scope)
                if canon is not None and canon.name in DROPOUTS:
                    yield node, canon.name
        for child in node.children:
            yield from self._dropouts(child, scope, shadowed)

    @staticmethod
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

    @staticmethod
    def rate_mentions(body: _Body, call: cst.Call) -> bool:
        rest = [a for i, a in enumerate(call.args) if i > 0 or a.keyword is not None]
        return any(body.mentions(a.value) for a in rest)

    # -- analysis -----------------------------------------------------------

    def analyse(self, fn: cst.FunctionDef | cst.Lambda, flags: frozenset[str], scope, where: str,
                owner, mc_nodes: tuple, depth: int = 0, seen: frozenset[int] = frozenset(),
                root: str | None = None, lam: LayerDef | None = None) -> None:
        root = root or where
        body = _Body(fn, flags)
        for call, name in self.dropouts(body, scope):
            if id(call) in self.hits or not self.drops(call, name):
                continue
            if self.rate_mentions(body, call) or body.gated(call):
                continue
            if self.module_mc() or any(self.text_mc(n) for n in (*mc_nodes, fn)):
                continue
            if isinstance(fn, cst.FunctionDef) and self.name_mc(fn.name.value):
                continue
            display = DROPOUTS[name][0]
            extra = " (the same ones on every call)" if name == STATELESS else ""
            self.hits[id(call)] = Hit(call, fmt={"func": display, "where": where, "extra": extra},
                                      data={"function": name, "owner": owner, "lambda": lam})
        if depth >= MAX_DEPTH:
            return
        for site, callee, bound in self.helpers(body, owner, scope):
            if id(callee) in seen or site is None:
                continue
            if body.gated(site):
                continue
            callee_flags = self.forwarded(body, site, callee, bound)
            name = callee.name.value
            self.analyse(callee, callee_flags, self.names.scope_of(callee), f"`{name}()` (called from {root})",
                         owner, mc_nodes, depth + 1, seen | {id(fn)}, root, lam)

    def helpers(self, body: _Body, owner, scope):
        """(call site, callee, is it a bound method) for same-file helpers called in the body."""
        self_name = None
        fn = body.node
        if owner is not None and isinstance(fn, cst.FunctionDef) and fn.params.params:
            self_name = fn.params.params[0].name.value
        for node in _walk(fn):
            if not isinstance(node, cst.Call):
                continue
            func = node.func
            if (self_name and isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)
                    and func.value.value == self_name):
                method = owner.methods.get(func.attr.value)
                if method is not None and func.attr.value not in ("call", "__init__", "build", "__call__"):
                    yield node, method, True
            elif isinstance(func, cst.Name) and func.value in self.module_funcs:
                if self._bound_locally(func.value, scope):
                    continue
                yield node, self.module_funcs[func.value], False

    def _bound_locally(self, name: str, scope) -> bool:
        current = scope
        while current is not None and current is not self.names.root:
            if current.kind != "class" and name in current.bindings:
                return True
            current = current.parent
        return False

    @staticmethod
    def forwarded(body: _Body, site: cst.Call, callee: cst.FunctionDef, bound: bool) -> frozenset[str]:
        params = [*callee.params.posonly_params, *callee.params.params]
        if bound and params:
            params = params[1:]
        by_name = {p.name.value for p in (*params, *callee.params.kwonly_params)}
        flags = set()
        index = 0
        for arg in site.args:
            if arg.star:
                break
            if arg.keyword is not None:
                if arg.keyword.value in by_name and body.mentions(arg.value):
                    flags.add(arg.keyword.value)
                continue
            if index < len(params) and body.mentions(arg.value):
                flags.add(params[index].name.value)
            index += 1
        return frozenset(flags)

    def run(self) -> Iterator[Hit]:
        for kc in self.pic.classes:
            if kc.kind not in ("layer", "model"):
                continue
            call = kc.methods.get("call")
            if call is None or not any(s is call for s in kc.node.body.body
                                       if isinstance(kc.node.body, cst.IndentedBlock)):
                continue  # inherited: checked with the class that defines it
            if self.name_mc(kc.name) or _MC_TEXT.search(_docstring(kc.node.body)):
                continue
            self.analyse(call, frozenset(), self.names.scope_of(call), f"`call()` of {kc.name}", kc, (call,))
        seen: set[int] = set()
        for layer in self.pic.lambdas:
            if id(layer.node) in seen:
                continue
            seen.add(id(layer.node))
            self.lambda_layer(layer)
        yield from self.hits.values()

    def _ungated_in(self, node: cst.CSTNode, function: cst.FunctionDef | None) -> bool:
        if function is None:
            return True
        if id(function) not in self.bodies:
            self.bodies[id(function)] = _Body(function, frozenset())
        body = self.bodies[id(function)]
        # Control flow only: a layer built (or applied) in an ungated place is in the model.
        return id(node) in body.order and not body.gated(node, flow=False)

    def lambda_layer(self, layer: LayerDef) -> None:
        fn_expr = layer.arg("function", 0)
        scope = layer.ctx.scope or self.names.root
        enclosing = layer.ctx.function
        if not self._ungated_in(layer.node, enclosing):
            return  # built only for training (or not where we think)
        if enclosing is not None and self.name_mc(enclosing.name.value):
            return
        apps = [a for a in self.pic.applies if a.layer.node is layer.node]
        if not apps and layer.ctx.cls is not None:
            return  # stored on a layer and applied we do not know how: unsure
        if apps and not any(self._ungated_in(a.node, a.ctx.function) for a in apps):
            return  # applied only in training
        where = "the function of a Lambda layer"
        if isinstance(fn_expr, cst.Lambda):
            self.analyse(fn_expr, frozenset(), scope, where, None, (enclosing,) if enclosing else (), lam=layer)
        elif isinstance(fn_expr, cst.Name):
            target = self.named_function(fn_expr.value, scope)
            if target is not None and not self.name_mc(target.name.value):
                self.analyse(target, frozenset(), self.names.scope_of(target),
                             f"`{target.name.value}()`, the function of a Lambda layer,", None,
                             (enclosing,) if enclosing else (), lam=layer)

    def named_function(self, name: str, scope) -> cst.FunctionDef | None:
        """The one `def name` of the scope that binds `name` (never a class body)."""
        current = scope
        while current is not None:
            if current.kind != "class" and name in current.bindings:
                if len(current.bindings[name]) != 1:
                    return None
                node = current.node
                block = node.body.body if isinstance(node, cst.FunctionDef) and isinstance(
                    node.body, cst.IndentedBlock) else getattr(node, "body", ())
                for stmt in block:
                    if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
                        return stmt
                return None
            current = current.parent
        return None


def check(pic: Picture) -> Iterator[Hit]:
    yield from _Checker(pic).run()


# ------------------------------------------------------------------ confirm mode
# What is built: the flagged Layer/Model class (from the file's slice: its imports, the class and
# whatever it uses), constructed with its defaults - or, when `__init__` has required parameters,
# with the arguments of a `Cls(...)` call of the same file whose arguments are all literals - or
# the flagged Lambda layer from its own constructor source (a function nested in a builder is
# defined from its own source). It is called eagerly, as predict() calls it (F2.5), with
# `training=False` on N(0, 1) inputs (seed 0; one input per required positional parameter of
# call(), all of one shape; an all-True `mask` when call() takes one). Shapes are tried in order
# (4, 16), (4, 8, 16), (2, 8, 8, 4): the first that runs is used. Then the same object (same
# weights) is called again with every dropout function replaced by the identity: in the modules
# that define or re-export them (tf.nn, tf.compat.v1/v2.nn, tf.nn.experimental, keras.random,
# tf.keras.backend, tf_keras.backend, ...), in the slice's namespace and in the object's own
# attributes; everything is restored afterwards. A second identity run checks that nothing else
# in the code is random. Measured: the share of output values that differ between the run as
# written and the identity run (np.isclose, rtol 1e-4, atol 1e-6), the share of exact zeros in
# each, how often a dropout function ran, and whether two runs as written differ (stateless
# dropout gives the same wrong output every time, F2.3, so that is evidence, not the test).
# Threshold: confirmed when more than 1 % of the output values differ. Measured on the fixtures:
# every positive 48-100 % (the survivors are rescaled, so nearly every value downstream of the
# dropout changes; 48-50 % where a ReLU before it or a loop's last ReLU already zeroes half of
# them); every clean look-alike 0.0 % (gated: the function never runs at training=False; rate 0,
# a result thrown away or deselected: it runs and changes nothing).
DIFF_THRESHOLD = 0.01
SHAPES = ((4, 16), (4, 8, 16), (2, 8, 8, 4))


def _required(fn: cst.FunctionDef | None, bound: bool = True) -> list[str]:
    """Parameters without a default (the first, `self`, skipped for methods)."""
    if fn is None:
        return []
    p = fn.params
    positional = [*p.posonly_params, *p.params]
    if bound and positional:
        positional = positional[1:]
    return [q.name.value for q in (*positional, *p.kwonly_params) if q.default is None]


def _literal_args(pic: Picture, call: cst.Call) -> str | None:
    """`a, k=b` when every argument of the call is a literal, else None."""
    import ast

    parts = []
    for arg in call.args:
        if arg.star:
            return None
        source = pic.module.code_for_node(arg.value).strip()
        try:
            ast.literal_eval(source)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
        parts.append(f"{arg.keyword.value}={source}" if arg.keyword is not None else source)
    return ", ".join(parts)


def _construction_args(pic: Picture, name: str) -> str | None:
    """The arguments of the first `name(...)` call in the file whose arguments are all literals."""
    for node in _walk(pic.module):
        if isinstance(node, cst.Call) and _last_name(node.func) == name and node.args:
            args = _literal_args(pic, node)
            if args is not None:
                return args
    return None


def _nested_def(pic: Picture, text: str, node: cst.FunctionDef | cst.ClassDef, slicer) -> dict | None:
    """The source of a def that is not at the top level of the file, dedented, at its line."""
    import ast
    import textwrap

    if any(stmt is node for stmt in pic.module.body):
        return None
    tree = ast.parse(text)
    kinds = (ast.ClassDef,) if isinstance(node, cst.ClassDef) else (ast.FunctionDef, ast.AsyncFunctionDef)
    code = pic.module.code_for_node(node)
    flat = "".join(code.split())
    found = [n for n in ast.walk(tree) if isinstance(n, kinds) and n.name == node.name.value
             and n not in tree.body and "".join((ast.get_source_segment(text, n) or "\0").split()) in flat]
    if len(found) != 1:
        raise ValueError(f"cannot locate `{node.name.value}` in the file")
    target = found[0]
    start = min([target.lineno] + [d.lineno for d in target.decorator_list])
    lines = text.splitlines()[start - 1: target.end_lineno]
    source = textwrap.dedent("\n".join(lines))
    reads = {n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    slicer.names |= reads - {node.name.value}
    return {"line": start, "source": source}


def _inputs_of(call: cst.FunctionDef | None) -> tuple[int, bool]:
    """(number of tensor inputs, does call() take a mask) from call()'s signature."""
    if call is None:
        return 1, False
    p = call.params
    names = [q.name.value for q in (*p.posonly_params, *p.params, *p.kwonly_params)]
    required = [n for n in _required(call) if n not in ("training", "mask") and n not in
                {q.name.value for q in p.kwonly_params}]
    return max(1, len(required)), "mask" in names


def _class_job(pic: Picture, text: str, kc) -> dict | str:
    from kerascheck.confirm.slice import Slicer

    slicer = Slicer(pic, text)
    nested = _nested_def(pic, text, kc.node, slicer)
    required = _required(kc.methods.get("__init__"))
    args = ""
    if required:
        args = _construction_args(pic, kc.name)
        if args is None:
            need = ", ".join(f"`{r}`" for r in required)
            return (f"`{kc.name}.__init__` needs {need} and the file has no "
                    f"`{kc.name}(...)` call with literal arguments to copy")
    slicer.need(kc.name)
    n_inputs, mask = _inputs_of(kc.methods.get("call"))
    return slicer.job(make=f"{kc.name}({args})", what=f"{kc.name}({args})", defs=[nested] if nested else [],
                      inputs=n_inputs, mask=mask, shapes=[list(s) for s in SHAPES])


def _lambda_job(pic: Picture, text: str, layer: LayerDef) -> dict | str:
    from kerascheck.confirm.slice import Slicer

    slicer = Slicer(pic, text)
    source = slicer.expr(layer.node, layer.ctx)
    defs = []
    fn_expr = layer.arg("function", 0)
    if isinstance(fn_expr, cst.Name):
        target = _Checker(pic).named_function(fn_expr.value, layer.ctx.scope or pic.names.root)
        if target is not None:
            nested = _nested_def(pic, text, target, slicer)
            if nested is not None:
                defs.append(nested)
                slicer.params(target)
    what = " ".join(source.split())
    what = what if len(what) <= 60 else what[:57] + "..."
    return slicer.job(make=source, what=what, defs=defs, inputs=1, mask=False,
                      shapes=[list(s) for s in SHAPES])


def confirm_job(hit: Hit, pic: Picture, text: str) -> dict | str | None:
    owner, lam = hit.data.get("owner"), hit.data.get("lambda")
    if lam is not None:
        return _lambda_job(pic, text, lam)
    if owner is not None:
        return _class_job(pic, text, owner)
    return None


def _reached(checker: _Checker, fn, scope, owner, depth: int = 0, seen=frozenset()) -> Iterator[cst.Call]:
    """Every dropout call in `fn` and the same-file helpers it calls, gated or not."""
    body = _Body(fn, frozenset())
    for call, _ in checker.dropouts(body, scope):
        yield call
    if depth >= MAX_DEPTH:
        return
    for _, callee, _ in checker.helpers(body, owner, scope):
        if id(callee) not in seen:
            yield from _reached(checker, callee, checker.names.scope_of(callee), owner, depth + 1,
                                seen | {id(fn)})


_RAISE_ON_BOOL = frozenset({"tensorflow.cond", "tensorflow.compat.v1.cond"})
_KERAS2_ONLY = frozenset({"keras.backend.learning_phase", "keras.backend.in_train_phase",
                          "keras.backend.in_test_phase"})


def _runs_at_inference(pic: Picture, node: cst.CSTNode) -> bool:
    """False for code that raises when called with training=False, so no verdict can be clean:
    `tf.cond` on the flag (F2.7), `K.switch` on a Python bool, and Keras 2's
    learning-phase functions reached through a Keras 3 spelling (Keras 3 has none of them)."""
    for sub in _walk(node):
        if isinstance(sub, cst.Call) and isinstance(sub.func, (cst.Name, cst.Attribute)):
            canon = pic.resolve(sub.func)
            if _last_name(sub.func) == "switch" or (canon is not None and canon.name in _RAISE_ON_BOOL):
                return False
            if canon is not None and canon.name in _KERAS2_ONLY and canon.flavor not in ("tf_keras", "tf.python.keras"):
                return False
    return True


def confirm_lookalikes(pic: Picture, text: str) -> Iterator[dict]:
    """Clean look-alikes, for the tests: the recipe must say `not reproduced` on each.

    Layer/Model classes (and Lambda layers) whose call() path does contain a dropout function
    that the rule leaves alone: gated on `training` in any of the ways the rule accepts, a rate of
    0, a result thrown away. Not deliberate Monte-Carlo dropout (it does drop at inference, by
    design), not code that raises at training=False (`tf.cond` on the flag, F2.7; `K.switch` on
    a Python bool; `K.learning_phase()` / `K.in_train_phase` spelled through Keras 3, which has
    neither), not a Lambda built or applied only for training (run on its own it drops), and not
    a class that cannot be constructed from the file.
    """
    checker = _Checker(pic)
    flagged = {id(h.node) for h in checker.run()}
    for kc in pic.classes:
        call = kc.methods.get("call")
        if kc.kind not in ("layer", "model") or call is None:
            continue
        if not any(s is call for s in kc.node.body.body if isinstance(kc.node.body, cst.IndentedBlock)):
            continue
        if checker.name_mc(kc.name) or _MC_TEXT.search(_docstring(kc.node.body)) or checker.module_mc():
            continue
        calls = list(_reached(checker, call, checker.names.scope_of(call), kc))
        if not calls or any(id(c) in flagged for c in calls):
            continue
        if not _runs_at_inference(pic, kc.node):
            continue
        job = _class_job(pic, text, kc)
        if isinstance(job, dict):
            yield job
    for layer in pic.lambdas:
        fn_expr = layer.arg("function", 0)
        if isinstance(fn_expr, cst.Lambda):
            fn = fn_expr
        elif isinstance(fn_expr, cst.Name):
            fn = checker.named_function(fn_expr.value, layer.ctx.scope or pic.names.root)
            if fn is None or checker.name_mc(fn.name.value):
                continue
        else:
            continue
        enclosing = layer.ctx.function
        if enclosing is not None and checker.name_mc(enclosing.name.value):
            continue
        # The checker's own conditions (lambda_layer): built and applied where inference runs it.
        if not checker._ungated_in(layer.node, enclosing):
            continue  # built only for training: on its own it drops
        apps = [a for a in pic.applies if a.layer.node is layer.node]
        if (not apps and layer.ctx.cls is not None) or (
                apps and not any(checker._ungated_in(a.node, a.ctx.function) for a in apps)):
            continue  # applied only in training (or we do not know how)
        if not _runs_at_inference(pic, fn):
            continue
        scope = layer.ctx.scope or pic.names.root
        calls = [c for c, _ in checker.dropouts(_Body(fn, frozenset()), scope)]
        if not calls or any(id(c) in flagged for c in calls):
            continue
        job = _lambda_job(pic, text, layer)
        if isinstance(job, dict):
            yield job


# -- child side (TensorFlow) --------------------------------------------------------------------


def _originals(probe) -> list:
    """The dropout functions themselves (each object once), from the libraries that are installed."""
    tf, keras = probe.tf, probe.keras
    found = [tf.nn.dropout, tf.compat.v1.nn.dropout, tf.nn.experimental.stateless_dropout,
             keras.random.dropout]
    for getter in (lambda: tf.keras.backend.dropout, lambda: __import__("tf_keras").backend.dropout):
        try:
            found.append(getter())
        except Exception:  # noqa: BLE001, S110 - not installed / not in this Keras
            pass
    unique = []
    for fn in found:
        if not any(fn is u for u in unique):
            unique.append(fn)
    return unique


class _Patch:
    """Replace the dropout functions everywhere they are bound: counting or identity."""

    def __init__(self, probe, ns: dict, objects: list) -> None:
        import sys

        self.originals = _originals(probe)
        ids = {id(f): f for f in self.originals}
        self.sites: list[tuple[object, str, object]] = []  # (dict or object, attribute, original)
        for module in list(sys.modules.values()):
            d = getattr(module, "__dict__", None)
            if isinstance(d, dict):
                for attr in ("dropout", "dropout_v2", "stateless_dropout"):
                    if id(d.get(attr)) in ids:
                        self.sites.append((module, attr, d[attr]))
        for name, value in ns.items():
            if id(value) in ids:
                self.sites.append((ns, name, value))
        for obj in objects:
            for name, value in list(getattr(obj, "__dict__", {}).items()):
                if id(value) in ids:
                    self.sites.append((obj, name, value))
        self.calls = 0
        self.depth = 0

    def _wrap(self, original, identity: bool):
        def dropout(*args, **kwargs):
            if self.depth:  # called by another dropout function: not counted twice
                return original(*args, **kwargs)
            self.calls += 1
            if identity:
                return args[0] if args else kwargs.get("x", kwargs.get("inputs", kwargs.get("input")))
            self.depth += 1
            try:
                return original(*args, **kwargs)
            finally:
                self.depth -= 1

        return dropout

    def run(self, fn, identity: bool):
        wrappers = {}
        for where, attr, original in self.sites:
            wrapper = wrappers.setdefault(id(original), self._wrap(original, identity))
            if isinstance(where, dict):
                where[attr] = wrapper
            else:
                setattr(where, attr, wrapper)
        self.calls = 0
        try:
            return fn()
        finally:
            for where, attr, original in self.sites:
                if isinstance(where, dict):
                    where[attr] = original
                else:
                    setattr(where, attr, original)


def _flat(probe, out):
    np = probe.np
    parts = [np.asarray(t, dtype="float64").ravel() for t in probe.tf.nest.flatten(out) if t is not None]
    if not parts:
        raise ValueError("the layer returned no tensor")
    return np.concatenate(parts)


def confirm(job: dict, probe) -> object:
    from kerascheck.confirm import CouldNotBuild
    from kerascheck.confirm.probe import describe

    np, tf = probe.np, probe.tf
    ns = probe.namespace(job)
    path = job.get("path", "<slice>")
    for d in job.get("defs", []):
        exec(compile("\n" * (d["line"] - 1) + d["source"], path, "exec"), ns)  # noqa: S102
    errors = []
    for shape in job["shapes"]:
        probe.seed(0)
        obj = probe.eval(job["make"], ns)
        K = probe.keras_for(obj)
        if K is not probe.keras:
            probe.seed(0, K)
        rng = np.random.RandomState(0)
        xs = [tf.constant(rng.normal(size=shape).astype("float32")) for _ in range(job["inputs"])]
        kwargs = {"training": False}
        if job.get("mask"):
            kwargs["mask"] = tf.ones(shape[:-1], dtype=tf.bool)
        objects = [obj, *obj._flatten_layers()] if hasattr(obj, "_flatten_layers") else [obj]
        patch = _Patch(probe, ns, objects)

        def run(obj=obj, xs=xs, kwargs=kwargs):
            return _flat(probe, obj(*xs, **kwargs))

        try:
            written = patch.run(run, identity=False)  # builds the weights on the first call
        except Exception as exc:  # noqa: BLE001 - the next shape may fit
            errors.append(f"input {tuple(shape)}: {describe(exc, path)}")
            continue
        break
    else:
        raise CouldNotBuild("no synthetic input shape fits: " + errors[0])
    again = patch.run(run, identity=False)
    ran = patch.calls  # counted on the second run: the first may also trace the call to build
    identity = patch.run(run, identity=True)
    identity2 = patch.run(run, identity=True)
    if identity.shape != written.shape:
        raise CouldNotBuild("the output changes shape when dropout is replaced by identity")
    if not np.allclose(identity, identity2, rtol=1e-4, atol=1e-6, equal_nan=True):
        raise CouldNotBuild("the output is random even with every dropout function replaced by identity: "
                            "something else in the code is random")
    differ = float(np.mean(~np.isclose(written, identity, rtol=1e-4, atol=1e-6, equal_nan=True)))
    zeros, zeros_id = float(np.mean(written == 0)), float(np.mean(identity == 0))
    stochastic = not np.array_equal(written, again)
    ok = differ > DIFF_THRESHOLD
    evidence = (f"{job['what']} called with training=False on N(0,1) input {tuple(shape)}"
                f"{' x' + str(job['inputs']) if job['inputs'] > 1 else ''}: dropout ran {ran}x; "
                f"{differ:.1%} of output values differ from the run with dropout replaced by identity "
                f"({'>' if ok else '<='} {DIFF_THRESHOLD:.0%}); zeros {zeros:.1%} vs {zeros_id:.1%}; "
                f"two runs as written {'differ' if stochastic else 'are identical'}")
    return probe.confirmed(evidence) if ok else probe.not_reproduced(evidence)
