"""The shared semantic model, piece by piece: canonical names, scopes, the walker, parent links,
constants and reaching definitions, uses, call sites, parameter values, training gates,
container contents and layer identity. Table tests: each row is a small program and what the
model must say about one expression in it."""

from __future__ import annotations

import pytest

from kerascheck.facts import DEFAULT
from kerascheck.flow import NOT_CONSTANT
from kerascheck.names import Canon, Names, canonical
from kerascheck.parse import parse_relevant
from kerascheck.picture import build
from kerascheck.rule import Context, cst


def context(source: str) -> Context:
    parsed = parse_relevant(source, "t.py", None)
    pic = build(parsed.module, Names(parsed.module, walrus=":=" in source), source)
    return Context(pic, source, "t.py", {}, DEFAULT)


def find(ctx: Context, code: str, kind=cst.CSTNode, nth: int = 0) -> cst.CSTNode:
    """The `nth` node of type `kind` whose source is exactly `code`."""
    found = [n for n in ctx.walk(ctx.picture.module) if isinstance(n, kind) and ctx.code(n).strip() == code]
    assert len(found) > nth, f"{code!r} not found"
    return found[nth]


def marked(ctx: Context, kind=cst.Name) -> cst.CSTNode:
    """The node of `kind` on the line that ends with `# <-`, last of that line."""
    lines = ctx.text.splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.rstrip().endswith("# <-"))
    from libcst.metadata import MetadataWrapper, PositionProvider

    pos = MetadataWrapper(ctx.picture.module, unsafe_skip_copy=True).resolve(PositionProvider)
    nodes = [n for n in ctx.walk(ctx.picture.module) if isinstance(n, kind) and n in pos and pos[n].start.line == line]
    return max(nodes, key=lambda n: pos[n].start.column)


# ------------------------------------------------------------------ canonical names (KERAS_FACTS G)

CANONICAL = [
    # G.1/G.3: tf.keras, tensorflow.keras and keras are the same canonical object.
    ("tensorflow.keras.layers.Dense", "keras.layers.Dense", "tf.keras"),
    ("keras.layers.Dense", "keras.layers.Dense", "keras"),
    ("tf_keras.layers.Dense", "keras.layers.Dense", "tf_keras"),
    # `from tensorflow import keras` gives keras._tf_keras.keras (G.1).
    ("keras._tf_keras.keras.layers.Dense", "keras.layers.Dense", "tf.keras"),
    ("tensorflow.compat.v1.keras.layers.Dropout", "keras.layers.Dropout", "tf.keras"),
    ("tensorflow.compat.v2.keras.layers.Dropout", "keras.layers.Dropout", "tf.keras"),
    ("tensorflow.python.keras.layers.Dropout", "keras.layers.Dropout", "tf.python.keras"),
    # Internal module paths map to the public name.
    ("keras.src.layers.regularization.dropout.Dropout", "keras.layers.Dropout", "keras"),
    ("tf_keras.src.layers.core.dense.Dense", "keras.layers.Dense", "tf_keras"),
    ("keras.api.layers.Dense", "keras.layers.Dense", "keras"),
    ("tensorflow.keras.models.Sequential", "keras.Sequential", "tf.keras"),
    ("keras.models.Model", "keras.Model", "keras"),
    ("tensorflow.keras.Input", "keras.Input", "tf.keras"),
    ("keras.layers.Input", "keras.Input", "keras"),
    ("keras.engine.input_layer.Input", "keras.Input", "keras"),
    ("tensorflow.keras.backend.dropout", "keras.backend.dropout", "tf.keras"),
    ("tensorflow.keras.constraints.NonNeg", "keras.constraints.NonNeg", "tf.keras"),
    # Not Keras: TensorFlow's own names keep their path; compat.v2 is TF 2 itself.
    ("tensorflow.nn.dropout", "tensorflow.nn.dropout", None),
    ("tensorflow.compat.v2.nn.dropout", "tensorflow.nn.dropout", None),
    ("tensorflow.compat.v1.nn.dropout", "tensorflow.compat.v1.nn.dropout", None),
    ("torch.nn.BatchNorm1d", "torch.nn.BatchNorm1d", None),
    ("kerasy.layers.Dense", "kerasy.layers.Dense", None),
]


@pytest.mark.parametrize("raw,name,flavor", CANONICAL, ids=[r[0] for r in CANONICAL])
def test_canonical(raw, name, flavor):
    assert canonical(raw) == Canon(name, flavor)


# Every import spelling of one layer, resolved at its use.
SPELLINGS = [
    ("import tensorflow as tf\nx = tf.keras.layers.Dropout", "keras.layers.Dropout", "tf.keras"),
    ("import tensorflow\nx = tensorflow.keras.layers.Dropout", "keras.layers.Dropout", "tf.keras"),
    ("from tensorflow import keras\nx = keras.layers.Dropout", "keras.layers.Dropout", "tf.keras"),
    ("from tensorflow.keras import layers\nx = layers.Dropout", "keras.layers.Dropout", "tf.keras"),
    ("from tensorflow.keras.layers import Dropout\nx = Dropout", "keras.layers.Dropout", "tf.keras"),
    ("from tensorflow.keras.layers import Dropout as D\nx = D", "keras.layers.Dropout", "tf.keras"),
    ("import tensorflow.keras.layers as L\nx = L.Dropout", "keras.layers.Dropout", "tf.keras"),
    ("import keras\nx = keras.layers.Dropout", "keras.layers.Dropout", "keras"),
    ("from keras import layers as kl\nx = kl.Dropout", "keras.layers.Dropout", "keras"),
    ("import tf_keras as keras\nx = keras.layers.Dropout", "keras.layers.Dropout", "tf_keras"),
    ("import tensorflow as tf\nL = tf.keras.layers\nDrop = L.Dropout\nx = Drop", "keras.layers.Dropout", "tf.keras"),
    ("import tensorflow.compat.v1 as tf\nx = tf.keras.layers.Dropout", "keras.layers.Dropout", "tf.keras"),
    ("from keras.layers import *\nx = Dropout", "keras.layers.Dropout", "keras"),
    # try/except imports that agree resolve; the flavor is "mixed".
    ("try:\n    import tf_keras as keras\nexcept ImportError:\n    from tensorflow import keras\nx = keras.layers.Dropout",
     "keras.layers.Dropout", "mixed"),
]


@pytest.mark.parametrize("source,name,flavor", SPELLINGS, ids=[s[0].splitlines()[0] for s in SPELLINGS])
def test_every_import_spelling_resolves(source, name, flavor):
    ctx = context(source + "\n")
    target = ctx.picture.module.body[-1].body[0].value
    assert ctx.resolve(target, target) == Canon(name, flavor)


UNRESOLVED = [
    # Rebound by anything but an import or alias: not provable.
    "from keras.layers import Dropout\nDropout = make()\nx = Dropout",
    "from keras.layers import Dropout\ndef f(Dropout):\n    return Dropout",
    # Bound to two different things in two branches.
    "if c:\n    from keras.layers import Dropout\nelse:\n    from keras.layers import BatchNormalization as Dropout\nx = Dropout",
    # A lambda's parameter and a comprehension's target shadow the import.
    "from keras import layers\nf = lambda layers: layers.Dropout",
    "from keras import layers\nx = [layers.Dropout for layers in things]",
    # A walrus in the function rebinds the name there.
    "from keras import layers\ndef f():\n    if (layers := g()):\n        pass\n    return layers.Dropout",
    # `global` in a function rebinds the module's name.
    "from keras import layers\ndef f():\n    global layers\n    layers = g()\nx = layers.Dropout",
]


@pytest.mark.parametrize("source", UNRESOLVED, ids=range(len(UNRESOLVED)))
def test_rebound_names_do_not_resolve(source):
    ctx = context(source + "\n")
    target = [n for n in ctx.walk(ctx.picture.module) if isinstance(n, cst.Attribute) and ctx.code(n) == "layers.Dropout"]
    target = target or [n for n in ctx.walk(ctx.picture.module)
                        if isinstance(n, cst.Name) and n.value == "Dropout"
                        and not isinstance(ctx.parent(n), (cst.ImportAlias, cst.AssignTarget, cst.Param))]
    assert ctx.resolve(target[-1], target[-1]) is None


def test_class_bodies_do_not_enclose_their_methods():
    ctx = context("from keras import layers\nclass A:\n    layers = 3\n    def f(self):\n        return layers.Dense\n")
    node = find(ctx, "layers.Dense", cst.Attribute)
    assert ctx.resolve(node, node) == Canon("keras.layers.Dense", "keras")


# ------------------------------------------------------------------ scopes

SCOPES = [
    ("x = 1", "x", "module"),
    ("def f():\n    x = 1", "x", "function"),
    ("class A:\n    x = 1", "x", "class"),
    ("f = lambda x: x", "x", "lambda"),
    ("y = [x for x in z]", "x", "comprehension"),
    ("def f(a=x):\n    pass", "x", "module"),  # a default is evaluated outside the function
    ("y = [x for x in z]", "z", "module"),  # the first iterable too (PEP 289)
]


@pytest.mark.parametrize("source,name,kind", SCOPES, ids=range(len(SCOPES)))
def test_scope_of(source, name, kind):
    ctx = context(source + "\n")
    node = [n for n in ctx.walk(ctx.picture.module) if isinstance(n, cst.Name) and n.value == name][-1]
    assert ctx.scope_of(node).kind == kind


# ------------------------------------------------------------------ the walker and parents


def test_walk_is_in_source_order_and_can_skip_scopes():
    ctx = context("a = f(b, lambda c: d)\ndef g():\n    e = 1\n")
    names = [n.value for n in ctx.walk(ctx.picture.module) if isinstance(n, cst.Name)]
    assert names == ["a", "f", "b", "c", "d", "g", "e"]
    outer = [n.value for n in ctx.walk(ctx.picture.module, into_scopes=False) if isinstance(n, cst.Name)]
    assert outer == ["a", "f", "b"]


def test_parent_links():
    ctx = context("model.add(layers.Dense(4))\n")
    dense = find(ctx, "layers.Dense(4)", cst.Call)
    assert isinstance(ctx.parent(dense), cst.Arg)
    assert [type(a).__name__ for a in ctx.ancestors(dense)] == ["Arg", "Call", "Expr", "SimpleStatementLine", "Module"]


# ------------------------------------------------------------------ constants and reaching definitions

CONSTANTS = [
    ("RATE = 0.5\nx = RATE  # <-", 0.5),
    ("A = 2\nB = A * 3 + 1\nx = B  # <-", 7),
    ("SHAPE = (28, 28, 1)\nx = SHAPE  # <-", (28, 28, 1)),
    ("SHAPE = (28, 28, 1)\nx = SHAPE[-1]  # <-", 1),
    ("x = -1e-3  # <-", -0.001),
    ("N = 'relu'\nx = N  # <-", "relu"),
    # The assignment that reaches the use, not the last one in the file.
    ("r = 0.1\ny = r  # <-\nr = 0.9", 0.1),
    ("r = 0.1\nr = 0.9\ny = r  # <-", 0.9),
    # Not known: bound in a branch, in a loop body, as a parameter, by unpacking.
    ("r = 0.1\nif c:\n    r = 0.9\ny = r  # <-", NOT_CONSTANT),
    ("r = 0.1\nfor i in x:\n    y = r  # <-\n    r = 0.9", NOT_CONSTANT),
    ("def f(r=0.5):\n    return r  # <-", NOT_CONSTANT),
    ("a, b = f()\ny = a  # <-", NOT_CONSTANT),
    ("a, *b = 1, 2, 3\ny = a  # <-", NOT_CONSTANT),
    # Unpacking a tuple display of the same length: each name its item.
    ("a, b = 1, 2\ny = b  # <-", 2),
    ("ROWS, COLS = 28, 32\ndef f():\n    return (ROWS, COLS, 1)  # <-", (28, 32, 1)),
    ("a, b = 1, 2\na, b = b, a\ny = a  # <-", 2),
    ("[a, (b, c)] = [1, (2, 3)]\ny = c  # <-", 3),
    # A module constant read in a function: the module's only binding.
    ("R = 0.3\ndef f():\n    return R  # <-", 0.3),
    ("R = 0.3\nR = 0.4\ndef f():\n    return R  # <-", NOT_CONSTANT),
    # Huge results are refused, never computed.
    ("x = b'x' * (3 * 1024 ** 3)  # <-", NOT_CONSTANT),
]


@pytest.mark.parametrize("source,value", CONSTANTS, ids=range(len(CONSTANTS)))
def test_constant(source, value):
    ctx = context(source + "\n")
    line = next(t for t in source.splitlines() if t.endswith("# <-"))
    expr_src = line.split("=", 1)[1].split("#")[0].strip() if "return" not in line else line.split("return")[1].split("#")[0].strip()
    node = find(ctx, expr_src, cst.BaseExpression, nth=0 if expr_src != "r" else 0)
    node = marked(ctx, type(node)) if isinstance(node, cst.Name) else node
    assert ctx.constant(node) == value


def test_definition_returns_the_bound_expression():
    ctx = context("from keras.constraints import NonNeg\nc = NonNeg()\nDense(4, kernel_constraint=c)  # <-\n")
    use = marked(ctx)
    assert ctx.code(ctx.definition(use)) == "NonNeg()"
    ctx = context("def f():\n    pass\ng = f  # <-\n")
    assert isinstance(ctx.definition(marked(ctx)), cst.FunctionDef)


# ------------------------------------------------------------------ uses, call sites, parameter values


def test_uses_stop_at_the_next_assignment():
    ctx = context("def f(x):\n    y = g(x)\n    h(y)\n    k(y)\n    y = 2\n    m(y)\n")
    target = next(n for n in ctx.walk(ctx.picture.module) if isinstance(n, cst.Name) and n.value == "y")
    assert [ctx.code(ctx.parent(ctx.parent(u))) for u in ctx.uses(target)] == ["h(y)", "k(y)"]


@pytest.mark.parametrize("body,used", [
    ("    y = g(x)\n    if c:\n        y = 2\n    m(y)\n", ["m(y)"]),  # the branch may not run
    ("    y = g(x)\n    for i in r:\n        y = h(y)\n    m(y)\n", ["h(y)", "m(y)"]),
    ("    if c:\n        y = g(x)\n        k(y)\n    y = 2\n    m(y)\n", ["k(y)"]),  # killed after the if
    ("    y = g(x)\n    y = h(y)\n    m(y)\n", ["h(y)"]),
    ("    y = g(x)\n    if c:\n        y = h(y)\n    else:\n        y = k(y)\n    m(y)\n", ["h(y)", "k(y)"]),
    ("    y = g(x)\n    if c:\n        y = h(y)\n    elif r:\n        y = k(y)\n    m(y)\n", ["h(y)", "k(y)", "m(y)"]),
])
def test_uses_run_past_a_reassignment_in_a_branch_or_loop(body, used):
    ctx = context("def f(x, c, r):\n" + body)
    target = next(n for n in ctx.walk(ctx.picture.module) if isinstance(n, cst.Name) and n.value == "y")
    assert [ctx.code(ctx.parent(ctx.parent(u))) for u in ctx.uses(target)] == used


def test_call_sites_and_parameter_values():
    source = ("def block(x, rate=0.0):\n    return x\n"
              "def build(x):\n    x = block(x)\n    x = block(x, rate=0.0)\n    return block(x, 0.0)\n"
              "class M:\n    def helper(self, a):\n        return a\n    def call(self, x):\n        return self.helper(x)\n")
    ctx = context(source)
    block = find(ctx, "def block(x, rate=0.0):\n    return x", cst.FunctionDef)
    assert len(ctx.call_sites(block)) == 3
    assert [ctx.constant(v) for v in ctx.param_values(block, "rate")] == [0.0, 0.0, 0.0]
    helper = next(n for n in ctx.walk(ctx.picture.module) if isinstance(n, cst.FunctionDef) and n.name.value == "helper")
    assert [ctx.code(c) for c in ctx.call_sites(helper)] == ["self.helper(x)"]
    assert ctx.param_values(helper, "a") is not None
    star = context("def f(a=1):\n    return a\nf(*args)\n")
    assert star.param_values(find(star, "def f(a=1):\n    return a", cst.FunctionDef), "a") is None


# ------------------------------------------------------------------ gating on training

GATED = [
    ("if training:\n        y = drop(x)  # <-\n    return y", True),
    ("y = drop(x) if training else x  # <-\n    return y", True),
    ("if not training:\n        return x\n    return drop(x)  # <-", True),
    ("is_train = training and self.on\n    if is_train:\n        x = drop(x)  # <-\n    return x", True),
    ("return K.in_train_phase(drop(x), x, training=training)  # <-", True),
    ("return tf.cond(training, lambda: drop(x), lambda: x)  # <-", True),
    ("y = drop(x)  # <-\n    return K.switch(training, y, x)", True),
    ("drop(x)  # <-\n    return x", True),  # the result is thrown away
    ("if self.mode == 'train':\n        x = drop(x)  # <-\n    return x", True),
    ("return drop(x)  # <-", False),
    ("if self.use_noise:\n        x = drop(x)  # <-\n    return x", False),
    ("y = drop(x)  # <-\n    return y", False),
]


@pytest.mark.parametrize("body,gated", GATED, ids=range(len(GATED)))
def test_training_gated(body, gated):
    ctx = context(f"def call(self, x, training=None):\n    {body}\n")
    call = marked(ctx, cst.Call)
    while ctx.code(call).split("(")[0].split(".")[-1] != "drop":
        call = next(c for c in ctx.walk(call) if isinstance(c, cst.Call) and c is not call)
    assert ctx.training_gated(call) is gated


# ------------------------------------------------------------------ the picture: containers, identity, defaults


def layers_applied(source: str) -> list[tuple[str, str | None]]:
    """(layer, producer) for every application, in order."""
    pic = context(source).picture
    out = []
    for app in pic.applies:
        producers = [p.layer.short for p in pic.producers(app)]
        out.append((app.layer.short, producers[0] if producers else None))
    return out


def test_list_grown_by_append_extend_insert_feeds_sequential():
    source = ("import keras\nfrom keras import layers\nxs = []\nxs.append(layers.Dense(4))\n"
              "xs.extend([layers.Dropout(0.5)])\nxs.insert(0, layers.Flatten())\nm = keras.Sequential(xs)\n")
    assert layers_applied(source) == [("Flatten", None), ("Dense", "Flatten"), ("Dropout", "Dense")]


def test_a_list_changed_by_other_methods_is_unknown():
    source = ("import keras\nfrom keras import layers\nxs = [layers.Dense(4), layers.Dropout(0.5)]\nxs.sort()\n"
              "m = keras.Sequential(xs)\n")
    assert layers_applied(source) == []


def test_symbolic_operands_see_a_list_as_grown():
    source = ("import keras\nimport tensorflow as tf\nx = keras.Input((4,))\nxs = []\nxs.append(x)\n"
              "y = tf.concat(xs, -1)\n")
    pic = context(source).picture
    [event] = [e for e in pic.calls if e.canon.name == "tensorflow.concat"]
    assert event.symbolic and event.symbolic[0].kt


def test_kwargs_dict_reaches_the_layer():
    source = ("from keras import layers\nfrom keras.constraints import NonNeg\n"
              "extra = {'kernel_constraint': NonNeg(), 'use_bias': False}\nd = layers.Dense(4, **extra)\n"
              "e = layers.Dense(4, **unknown)\n")
    ctx = context(source)
    known, opaque = ctx.picture.layers
    assert ctx.code(known.arg("kernel_constraint")) == "NonNeg()" and not known.opaque
    assert known.given("bias_initializer") is False
    assert opaque.arg("kernel_constraint") is None and opaque.given("kernel_constraint") is None


def test_one_layer_object_listed_twice_is_one_layer():
    source = ("import keras\nfrom keras import layers\nnorm = layers.BatchNormalization()\nxs = []\n"
              "for i in range(3):\n    xs.append(layers.Dropout(0.5))\n    xs.append(norm)\nm = keras.Sequential(xs)\n")
    pic = context(source).picture
    bns = [a for a in pic.applies if a.layer.short == "BatchNormalization"]
    assert len({id(a.layer) for a in bns}) == 1
    assert [a.repeat for a in bns] == [False, True]
    assert len(pic.applications(bns[0].layer)) == 2


def test_a_default_parameter_decides_a_branch_at_each_call():
    source = ("from keras import layers\n"
              "def block(x, dropout_rate=0):\n    if dropout_rate:\n        x = layers.Dropout(dropout_rate)(x)\n"
              "    return layers.BatchNormalization()(x)\n"
              "def build(x):\n    return block(block(x))\n")
    assert layers_applied(source) == [("BatchNormalization", None), ("BatchNormalization", "BatchNormalization")]
    taken = source.replace("return block(block(x))", "return block(x, 0.5)")
    assert layers_applied(taken) == [("Dropout", None), ("BatchNormalization", "Dropout")]


def test_method_calls_are_recorded_with_their_receiver():
    source = ("import keras\nclass L(keras.layers.Layer):\n    def build(self, shape):\n"
              "        self.w = self.add_weight(shape=(4,))\n"
              "m = keras.Sequential()\nm.compile(loss='mse')\n")
    pic = context(source).picture
    got = sorted((e.name, e.receiver.kind) for e in pic.methods)
    assert got == [("add_weight", "self"), ("compile", "model")]


def test_method_calls_on_models_keep_a_snapshot():
    source = ("import keras\nfrom keras import layers\nm = keras.Sequential([layers.Dense(4)])\n"
              "ms = ['mae']\nm.compile(loss=keras.losses.Huber(), metrics=ms)\nms.append('acc')\n"
              "m.add(layers.Dense(1))\n")
    pic = context(source).picture
    [event] = [e for e in pic.methods if e.name == "compile"]
    assert event.state.sequential_output(event.receiver).app.layer.short == "Dense"
    assert event.state.sequential_output(event.receiver).app is pic.applies[0]  # not the later Dense(1)
    metrics = dict(event.kwargs)["metrics"]
    assert [v.lit for v in event.state.items(metrics)] == ["mae"]  # as it was at the call
    loss = dict(event.kwargs)["loss"]
    assert (loss.kind, loss.canon.name) == ("object", "keras.losses.Huber")
    assert [a.model for a in pic.applies] == [event.receiver.oid] * 2
    assert context(source).code(pic.sequentials[event.receiver.oid]) == "keras.Sequential([layers.Dense(4)])"


def test_a_subclassed_model_knows_what_call_returns():
    source = ("import keras\nclass M(keras.Model):\n    def __init__(self):\n        super().__init__()\n"
              "        self.out = keras.layers.Dense(3)\n    def call(self, x):\n        return self.out(x)\n"
              "m = M()\nm.compile(loss='mse')\n")
    pic = context(source).picture
    [kc] = pic.classes
    assert kc.output.app.layer.short == "Dense"
    [event] = [e for e in pic.methods if e.name == "compile"]
    assert event.receiver.cls is kc


def test_a_sequential_handed_to_unknown_code_is_no_longer_known():
    source = ("import keras\nfrom keras import layers\nfrom lib import grow\nm = keras.Sequential([layers.Dense(4)])\n"
              "print(m)\nm.fit(x)\nm.compile(loss='mse')\ngrow(m)\nm.compile(loss='mse')\n")
    pic = context(source).picture
    first, second = [e for e in pic.methods if e.name == "compile"]
    assert first.state.sequential_output(first.receiver).app is not None  # print() and fit() change nothing
    assert second.state.sequential_output(second.receiver).kind == "unknown"


# ------------------------------------------------------------------ what a receiver is (Value.is_model)

RECEIVERS = [
    ("import keras\nm = keras.Sequential([keras.layers.Dense(1)])\n", True),
    ("import tensorflow as tf\nm = tf.keras.models.load_model('m.h5')\n", True),
    ("from tensorflow.keras.models import load_model\nm = load_model('m.keras', compile=False)\n", True),
    ("import keras\nm = keras.saving.load_model('m.keras')\n", True),
    ("import tf_keras\nm = tf_keras.models.clone_model(base)\n", True),
    ("from keras.applications import ResNet50\nm = ResNet50(weights=None)\n", True),
    ("import tensorflow as tf\nm = tf.keras.applications.mobilenet_v2.MobileNetV2()\n", True),
    ("import keras\ninp = keras.Input((4,))\nm = keras.Model(inp, keras.layers.Dense(1)(inp))\n", True),
    ("import keras\nclass Net(keras.Model):\n    pass\nm = Net()\n", True),
    ("import keras\ndef make():\n    return keras.Sequential()\nm = make()\n", True),
    # Not models: a layer, a preprocessing function, other libraries, an unknown, a mix.
    ("import keras\nclass Block(keras.layers.Layer):\n    pass\nm = Block()\n", False),
    ("import keras\nm = keras.layers.Dense(3)\n", False),
    ("from keras.applications.resnet50 import preprocess_input\nm = preprocess_input(x)\n", False),
    ("from sklearn.ensemble import RandomForestClassifier\nm = RandomForestClassifier()\n", False),
    ("import joblib\nm = joblib.load('m.pkl')\n", False),
    ("class Net:\n    pass\nm = Net()\n", False),
    ("import keras, joblib\nm = keras.models.load_model(p) if k else joblib.load(p)\n", False),
]


@pytest.mark.parametrize("source,is_model", RECEIVERS, ids=range(len(RECEIVERS)))
def test_receiver_is_a_keras_model(source, is_model):
    pic = context(source + "m.predict(x)\n").picture
    [event] = [e for e in pic.methods if e.name == "predict"]
    assert event.receiver.is_model() is is_model


def test_a_model_parameter_is_a_model_where_the_caller_passes_one():
    source = ("import keras\ndef score(model, x):\n    return model.predict(x)\n"
              "score(keras.models.load_model('m.keras'), data)\n")
    pic = context(source).picture
    got = sorted(e.receiver.is_model() for e in pic.methods if e.name == "predict")
    assert got == [True]  # inlined at the call, with the caller's argument
    alone = context(source.replace("score(keras.models.load_model('m.keras'), data)\n", "")).picture
    assert [e.receiver.is_model() for e in alone.methods if e.name == "predict"] == [False]


# ------------------------------------------------------------------ loops

LOOPS = [
    # (source, marked expression, [loop kinds innermost first], loop names of the innermost)
    ("for i in range(n):\n    f(x[i])  # <-\n", "f(x[i])", ["For"], {"i"}),
    ("for i, (a, b) in enumerate(zip(p, q)):\n    f(a)  # <-\n", "f(a)", ["For"], {"i", "a", "b"}),
    ("for path in paths:\n    img = load(path)\n    arr = img / 255\n    f(arr)  # <-\n", "f(arr)", ["For"],
     {"path", "img", "arr"}),
    ("for p in ps:\n    total = 0\n    f(total)  # <-\n", "f(total)", ["For"], {"p"}),
    ("i = 0\nwhile i < n:\n    f(x[i])  # <-\n    i += 1\n", "f(x[i])", ["While"], {"i"}),
    ("while True:\n    frame = cam.read()\n    f(frame)  # <-\n", "f(frame)", ["While"], set()),
    ("for e in range(3):\n    for j in range(4):\n        f(j)  # <-\n", "f(j)", ["For", "For"], {"j"}),
    ("ys = [f(x[None]) for x in xs if x]  # <-\n", "f(x[None])", ["ListComp"], {"x"}),
    ("ys = {k: f(v) for k, v in d.items()}  # <-\n", "f(v)", ["DictComp"], {"k", "v"}),
    # Evaluated once: a for's iterable and else clause, a comprehension's first iterable.
    ("for i in f(xs):  # <-\n    pass\n", "f(xs)", [], None),
    ("for i in xs:\n    pass\nelse:\n    f(i)  # <-\n", "f(i)", [], None),
    ("ys = [y for y in f(xs)]  # <-\n", "f(xs)", [], None),
    # A def in a loop runs where it is called.
    ("for i in xs:\n    def g():\n        return f(i)  # <-\n", "f(i)", [], None),
    ("f(x)  # <-\n", "f(x)", [], None),
]


@pytest.mark.parametrize("source,code,kinds,names", LOOPS, ids=range(len(LOOPS)))
def test_loops_and_loop_names(source, code, kinds, names):
    ctx = context(source)
    node = find(ctx, code, cst.Call)
    loops = ctx.loops(node)
    assert [type(loop).__name__ for loop in loops] == kinds
    if loops:
        assert ctx.loop_names(loops[0]) == names


TRIPS = [
    ("for i in range(5):\n    f()\n", 5),
    ("N = 3\nfor i in range(1, N + 1):\n    f()\n", 3),
    ("for i in range(0, 10, 4):\n    f()\n", 3),
    ("for x in [a, b]:\n    f()\n", 2),
    ("for i, x in enumerate(xs[:8]):\n    f()\n", 8),
    ("for a, b in zip(xs[2:6], ys):\n    f()\n", 4),
    ("ys = [f() for x in xs[:4] for c in 'ab']\n", None),  # 'ab' is not a literal sequence of items here
    ("ys = [f() for x in range(4) for c in (1, 2)]\n", 8),
    ("for i in range(n):\n    f()\n", None),
    ("for x in xs[:k]:\n    f()\n", None),
    ("while i < 3:\n    f()\n", None),
    ("range = myrange\nfor i in range(5):\n    f()\n", None),
]


@pytest.mark.parametrize("source,trips", TRIPS, ids=range(len(TRIPS)))
def test_max_trips(source, trips):
    ctx = context(source)
    [loop] = [n for n in ctx.walk(ctx.picture.module) if isinstance(n, (cst.For, cst.While, cst.ListComp))][:1]
    assert ctx.max_trips(loop) == trips


def test_reads_skips_attribute_and_keyword_names():
    ctx = context("f(a.i, b[j], k=c)\n")
    assert ctx.reads(find(ctx, "f(a.i, b[j], k=c)", cst.Call)) == {"f", "a", "b", "j", "c"}


PARAMETERS = [
    # (source, is the marked load the parameter's own value?)
    ("def build(self, shape):\n    return f(shape)  # <-\n", True),
    ("def build(self, shape):\n    shape = g(shape)  # <-\n", True),  # read in the rebinding statement itself
    ("def build(self, shape):\n    shape = g(shape)\n    return f(shape)  # <-\n", False),
    ("def build(self, shape):\n    f(shape)  # <-\n    shape = g(shape)\n", True),
    ("def build(self, shape):\n    for shape in shapes:\n        f(shape)  # <-\n", False),
    ("def build(self, shape):\n    shape += 1\n    f(shape)  # <-\n", False),
    ("shape = 3\nf(shape)  # <-\n", False),
    ("def build(self):\n    return f(shape)  # <-\n", False),
]


@pytest.mark.parametrize("source,is_param", PARAMETERS, ids=range(len(PARAMETERS)))
def test_parameter(source, is_param):
    ctx = context(source)
    node = marked(ctx)
    param = ctx.parameter(node)
    assert (param is not None and param.name.value == node.value) is is_param
# ------------------------------------------------------------------ branches on parameters (KC001)


def _bn_inputs(source: str) -> list[tuple[str, bool, str | None]]:
    """(producer of each BatchNormalization application, conditional, the deciding call's code)."""
    ctx = context(source)
    out = []
    for app in ctx.picture.applies:
        if app.layer.short == "BatchNormalization":
            drops = [p for p in ctx.picture.producers(app) if p.layer.short == "Dropout"]
            for d in drops:
                out.append((d.layer.short, d.conditional, ctx.code(d.decided) if d.decided is not None else None))
    return out


BLOCK = ("from keras import layers\n"
         "def block(x, rate=0):\n    if rate:\n        x = layers.Dropout(rate)(x)\n"
         "    return layers.BatchNormalization()(x)\n")
BRANCHES = [
    # No call: run on its own, the default 0 skips the branch: the Dropout is only maybe made.
    (BLOCK, [("Dropout", True, None)]),
    # A call that passes a known rate decides it, and is the deciding call.
    (BLOCK + "def build(x):\n    return block(x, rate=0.3)\n", [("Dropout", False, "block(x, rate=0.3)")]),
    # A call that passes its own unknown parameter: still undecided.
    (BLOCK + "def build(x, r):\n    return block(x, r)\n", [("Dropout", True, None)]),
    # Handed on through a caller: the deciding call is the one with the literal.
    (BLOCK + "def stage(x, r):\n    return block(x, r)\ndef build(x):\n    return stage(x, 0.5)\n",
     [("Dropout", False, "stage(x, 0.5)")]),
    # A test computed from the parameter is as unknown; a default that takes the branch is taken.
    (BLOCK.replace("if rate:", "if rate > 0 and not False:"), [("Dropout", True, None)]),
    (BLOCK.replace("rate=0", "rate=0.5"), [("Dropout", False, None)]),
    # A default that takes the branch, through a call that leaves it out: decided by that call.
    (BLOCK.replace("rate=0", "rate=0.5") + "def build(x):\n    return block(x)\n",
     [("Dropout", False, "block(x)")]),
]


@pytest.mark.parametrize("source, expected", BRANCHES, ids=[str(i) for i in range(len(BRANCHES))])
def test_branches_on_parameters(source, expected):
    assert _bn_inputs(source) == expected


# ------------------------------------------------------------------ root KerasTensors (KC004)


def test_raw_ops_keep_the_root_keras_tensor():
    source = ("import keras\nimport tensorflow as tf\nx = keras.Input((4,))\nh = keras.layers.Dense(4)(x)\n"
              "a = tf.reduce_sum(h, -1)\nb = tf.abs(a) * 2\nc = b[:, None]\nd = keras.layers.Dense(2)(c)\n")
    ctx = context(source)
    by_op = {e.canon.name.rsplit(".", 1)[-1]: e for e in ctx.picture.calls}
    dense = find(ctx, "keras.layers.Dense(4)(h)".replace("(h)", "(x)"), cst.Call)
    assert by_op["reduce_sum"].symbolic[0].origin() is dense
    assert by_op["abs"].symbolic[0].origin() is dense  # through a TF op's result
    [apply2] = [a for a in ctx.picture.applies if a.layer.arg("units", 0) is not None and ctx.code(a.layer.arg("units", 0)) == "2"]
    assert apply2.inputs[0].origin() is dense  # through an operator and slicing


MODEL_TENSORS = [
    ("m.output", True), ("m.outputs", True), ("m.inputs", True), ("m.get_layer('d').output", True),
    ("base(x)", True), ("base.output", True), ("preprocess_input(x)", True), ("loaded.output", True),
    ("m.summary", False), ("unknown_model.output", False),
]


@pytest.mark.parametrize("expr, kt", MODEL_TENSORS)
def test_keras_tensors_that_come_from_calls(expr, kt):
    source = ("import tensorflow as tf\nfrom tensorflow import keras\n"
              "from tensorflow.keras.applications.resnet50 import preprocess_input\n"
              "x = keras.Input((32, 32, 3))\nm = keras.Model(x, keras.layers.Dense(2, name='d')(x))\n"
              "base = keras.applications.ResNet50(include_top=False, weights=None)\n"
              "loaded = keras.models.load_model('m.keras')\n"
              f"probe = tf.identity({expr})\n")
    ctx = context(source)
    [event] = [e for e in ctx.picture.calls if e.canon.name == "tensorflow.identity"]
    assert bool(event.symbolic) is kt


# ------------------------------------------------------------------ values and uses (KC003)


def test_values_of_a_parameter():
    source = ("def make(n, c=NonNeg()):\n    return c  # <-\n"
              "def called(n, c=None):\n    return c  # <-\n"
              "def use():\n    called(1)\n    called(2, c=MaxNorm(2))\n")
    ctx = context(source)
    loads = [n for n in ctx.walk(ctx.picture.module) if isinstance(n, cst.Name) and n.value == "c"
             and isinstance(ctx.parent(n), cst.Return)]
    assert [ctx.code(v) for v in ctx.values(loads[0])] == ["NonNeg()"]  # no call: the default
    assert [ctx.code(v) for v in ctx.values(loads[1])] == ["None", "MaxNorm(2)"]  # each call


def test_object_uses_in_order():
    source = ("layer = Dense(3)\nlayer.build((None, 2))\nx = layer.kernel.constraint\n"
              "layer.kernel.assign(w)\ny = layer(z)\nkeep(layer)\nlayer = Dense(4)\nlayer.build(None)\n")
    ctx = context(source)
    made = find(ctx, "Dense(3)", cst.Call)
    got = [(u.kind, u.path) for u in ctx.object_uses(made)]
    assert got == [("method", ("build",)), ("attribute", ("kernel", "constraint")),
                   ("method", ("kernel", "assign")), ("call", ()), ("escape", ())]
    assert ctx.object_uses(find(ctx, "keep(layer)", cst.Call)) is None  # not bound to a name


def test_a_conditional_kwargs_dict_gives_its_keys():
    source = ("from keras import layers\nfrom keras.constraints import NonNeg\n"
              "def f(n, convex):\n    c = {'kernel_constraint': NonNeg()} if convex else {}\n"
              "    return layers.Dense(n, **c)\n"
              "def g(n, flag):\n    c = {'kernel_constraint': NonNeg()} if flag else {'kernel_constraint': 'max_norm'}\n"
              "    return layers.Dense(n, **c)\n")
    known, conflicting = context(source).picture.layers
    assert known.arg("kernel_constraint") is not None and not known.opaque
    assert conflicting.opaque


def test_add_weight_gives_a_weight_and_assign_is_recorded_on_it():
    source = ("import keras\nclass L(keras.layers.Layer):\n    def build(self, shape):\n"
              "        self.w = self.add_weight(shape=(4,))\n        self.w.assign(ones)\n")
    pic = context(source).picture
    [add] = [e for e in pic.methods if e.name == "add_weight"]
    [assign] = [e for e in pic.methods if e.name == "assign"]
    assert assign.receiver.kind == "weight" and assign.receiver.node is add.node


def test_instances_of_local_classes():
    source = ("import keras\nclass L(keras.layers.Layer):\n    pass\n"
              "def build():\n    return L()(keras.Input((2,)))\n")
    pic = context(source).picture
    assert [i.canon.name for i in pic.instances] == ["<local>.L"]


STRINGS = ["0", "10", "1_000", "0x1F", "0o17", "0b101", "1.5", ".5", "1e-3", "1_0.5e2", "3j",
           "'relu'", '"x"', "r'\\d+'", '"""doc\nmore"""', "u'é'", "'a\\nb'", "b'x'", "''", '""""""',
           "'\"'", 'R"x"', "'''a'''", "'tab\\there'", "'a' 'b'"]


@pytest.mark.parametrize("source", STRINGS, ids=range(len(STRINGS)))
def test_string_literals_have_their_python_value(source):
    import ast

    from kerascheck.flow import literal_value

    node = cst.parse_expression(source)
    assert literal_value(node) == ast.literal_eval(source)


# ------------------------------------------------------------------ spellings, imports, attributes (fixes)

from kerascheck.facts import ProjectFacts  # noqa: E402
from kerascheck.names import keras_relative  # noqa: E402
from kerascheck.rule import remove_arg  # noqa: E402

SPELL = [
    # What names `keras.ops` at the marked line: the file's own imports, shortest first.
    ("import keras\nx = 1  # <-\n", "keras.ops", "keras.ops"),
    ("from keras import ops\nimport keras\nx = 1  # <-\n", "keras.ops", "ops"),
    ("import tensorflow as tf\nx = 1  # <-\n", "keras.ops", "tf.keras.ops"),
    ("from tensorflow import keras\nx = 1  # <-\n", "keras.ops", "keras.ops"),
    # A local binding hides the import: not a spelling there.
    ("import keras\ndef f():\n    keras = 3\n    x = 1  # <-\n", "keras.ops", None),
    # tf_keras is not Keras 3: no spelling through it.
    ("import tf_keras as keras\nx = 1  # <-\n", "keras.ops", None),
    # A canonical name that collapses internal segments (schedules).
    ("import keras\nx = 1  # <-\n", "keras.optimizers.schedules.InverseTimeDecay",
     "keras.optimizers.schedules.InverseTimeDecay"),
    # Not Keras: plain module paths.
    ("import numpy as np\nx = 1  # <-\n", "numpy.argmax", "np.argmax"),
    ("x = 1  # <-\n", "numpy.argmax", None),
]


@pytest.mark.parametrize(("source", "target", "expected"), SPELL)
def test_spell(source, target, expected):
    ctx = context(source)
    node = marked(ctx, cst.Integer)
    assert ctx.picture.names.spell(target, ctx.scope_of(node)) == expected


def test_spelling_adds_import_keras_before_the_first_import_only_when_keras_is_free():
    ctx = context('"""Doc."""\nfrom __future__ import annotations\nimport os\nfrom keras import backend as K\n'
                  "y = 1  # <-\n")
    text, edits = ctx.spelling("keras.ops", marked(ctx, cst.Integer))
    assert text == "keras.ops" and len(edits) == 1
    assert edits[0].at == "before" and edits[0].content == "import keras\n"
    assert ctx.code(edits[0].node).strip() == "import os"  # after the __future__ import
    taken = context("from keras import backend as K\nkeras = None\ny = 1  # <-\n")
    assert taken.spelling("keras.ops", marked(taken, cst.Integer)) is None


SPELLED = [
    ("from keras.layers import merge\nmerge.concatenate  # <-\n", {"keras.layers.merge.concatenate"}),
    ("import keras\nkeras.layers.merge.concatenate  # <-\n", {"keras.layers.merge.concatenate"}),
    ("import tensorflow as tf\nL = tf.keras.layers\nL.experimental.preprocessing  # <-\n",
     {"tensorflow.keras.layers.experimental.preprocessing"}),
    ("try:\n    import tf_keras as keras\nexcept ImportError:\n    from tensorflow import keras\nkeras.layers  # <-\n",
     {"tf_keras.layers", "tensorflow.keras.layers"}),
    ("unknown.layers  # <-\n", None),
]


@pytest.mark.parametrize(("source", "expected"), SPELLED)
def test_spelled_paths_keep_what_canonical_names_drop(source, expected):
    ctx = context(source)
    node = marked(ctx, cst.Attribute)
    got = ctx.spelled(node, node)
    assert (set(got) if got is not None else None) == expected


def test_import_records_keep_whole_paths_and_nodes():
    ctx = context("import keras.utils.np_utils\nfrom keras.layers.merge import concatenate as cat, Add\n"
                  "def f():\n    from keras import backend as K\n")
    got = [(r.path, ctx.code(r.node).strip(), type(r.statement).__name__, r.scope.kind) for r in ctx.import_records()]
    assert got == [("keras.utils.np_utils", "keras.utils.np_utils", "Import", "module"),
                   ("keras.layers.merge.concatenate", "concatenate as cat,", "ImportFrom", "module"),
                   ("keras.layers.merge.Add", "Add", "ImportFrom", "module"),
                   ("keras.backend", "backend as K", "ImportFrom", "function")]


def test_attributes_are_indexed_by_name():
    ctx = context("a.lr = 1\nprint(b.optimizer.lr, c.lr())\nx = args.lr_decay\n")
    assert [ctx.code(a) for a in ctx.attributes("lr")] == ["a.lr", "b.optimizer.lr", "c.lr"]
    assert ctx.attributes("missing") == []


@pytest.mark.parametrize(("raw", "expected"), [
    ("tensorflow.keras.layers.merge.concatenate", ("tf.keras", "layers.merge.concatenate")),
    ("keras.backend", ("keras", "backend")),
    ("keras", ("keras", "")),
    ("tf_keras.optimizers.legacy.SGD", ("tf_keras", "optimizers.legacy.SGD")),
    ("numpy.keras", None),
])
def test_keras_relative(raw, expected):
    assert keras_relative(raw) == expected


KERAS_MAJOR = [
    # (source, facts, flavor, expected)
    ("import keras\n", DEFAULT, "keras", "3"),
    ("import keras\n", DEFAULT, None, "3"),
    ("import tensorflow as tf\n", DEFAULT, "tf.keras", "3"),
    ("import tf_keras\n", DEFAULT, "tf_keras", "2"),
    # A file that imports tf_keras, or sets TF_USE_LEGACY_KERAS, says nothing sure about the others.
    ("import keras\nimport tf_keras\n", DEFAULT, "keras", None),
    ("import os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\nimport tensorflow as tf\n", DEFAULT, "tf.keras", None),
    # The project's target.
    ("import keras\n", ProjectFacts(keras="2", keras_source="pins"), "keras", "2"),
    ("import keras\n", ProjectFacts(keras="3", keras_source="--target-keras", keras_forced=True), "keras", "3"),
    # No Keras import at all: the file as a whole is not Keras code.
    ("import numpy\n", DEFAULT, None, None),
]


@pytest.mark.parametrize(("source", "facts", "flavor", "expected"), KERAS_MAJOR)
def test_keras_major(source, facts, flavor, expected):
    ctx = context(source)
    ctx.facts = facts
    assert ctx.keras_major(flavor) == expected


@pytest.mark.parametrize(("call", "arg", "expected"), [
    ("f(a, b=1, c=2)", "b=1", "f(a, c=2)"),
    ("f(a, b=1)", "b=1", "f(a)"),
    ("f(b=1,)", "b=1", "f()"),
    ("f(\n    a,\n    b=1,\n)", "b=1", "f(\n    a,\n)"),
])
def test_remove_arg_leaves_valid_code(call, arg, expected, tmp_path):
    from kerascheck import engine
    from kerascheck.config import Settings
    from kerascheck.rule import Fix, Hit, Rule

    def check(ctx):
        node = next(n for n in ctx.walk(ctx.picture.module) if isinstance(n, cst.Call))
        target = next(a for a in node.args if ctx.code(a).strip().rstrip(",") == arg)
        yield Hit(node, fix=Fix(remove_arg(node, target), "safe", "drop it"))

    from kerascheck import fix

    plan = engine.Plan.make(Settings(), (Rule("KC999", "t", "m", needs=(b"f",), check=check),), {"KC999"})
    outcome = fix.fix_data("t.py", None, (call + "\n").encode(), plan)
    assert outcome.fixed.decode() == expected + "\n"


def test_calls_in_an_assert_are_calls():
    ctx = context("import keras\nmodel = keras.Sequential()\nassert model.predict_generator(g, 2).shape, keras.ops.sum(x)\n")
    assert [e.name for e in ctx.picture.methods] == ["predict_generator"]
    # `Sequential(...)` is a call too (KC022 reads its arguments)
    assert [e.canon.name for e in ctx.picture.calls] == ["keras.Sequential", "keras.ops.sum"]


def test_spelling_uses_only_imports_that_run_with_the_module():
    # `tf` is imported in one branch of a function only: naming it elsewhere could fail.
    ctx = context("import keras.backend as K\nfrom lib import *\n"
                  "def f(x):\n    if K.backend() == 'theano':\n        return 1  # <-\n"
                  "    import tensorflow as tf\n    return tf\n")
    assert ctx.spelling("keras.ops", marked(ctx, cst.Integer)) is None
    ctx = context("import tensorflow as tf\ny = 1  # <-\n")
    assert ctx.spelling("keras.ops", marked(ctx, cst.Integer)) == ("tf.keras.ops", ())


# ------------------------------------------------------------------ errors the code expects

EXPECTED_ERRORS = [
    ("try:\n    x = f(1)  # <-\nexcept (ValueError, errors.KerasError):\n    pass\n", {"ValueError", "KerasError"}),
    ("try:\n    x = f(1)  # <-\nexcept:\n    pass\n", {"BaseException"}),
    # In the handler, not the body: nothing is expected there.
    ("try:\n    pass\nexcept ValueError:\n    x = f(1)  # <-\n", set()),
    ("with self.assertRaisesRegex(TypeError, 'bad'):\n    x = f(1)  # <-\n", {"TypeError"}),
    ("with pytest.raises((ValueError, AttributeError)):\n    x = f(1)  # <-\n", {"ValueError", "AttributeError"}),
    ("with pytest.raises(expected_exception=ImportError):\n    x = f(1)  # <-\n", {"ImportError"}),
    ("with self.assertRaises(ERRORS[0]):\n    x = f(1)  # <-\n", {"BaseException"}),
    # Another context manager expects nothing.
    ("with open('f') as fh:\n    x = f(1)  # <-\n", set()),
    # A function defined in the try runs later, outside it.
    ("try:\n    def g():\n        return f(1)  # <-\nexcept ValueError:\n    pass\n", set()),
    # Nested: both blocks count.
    ("with pytest.raises(KeyError):\n    try:\n        x = f(1)  # <-\n    except ValueError:\n        pass\n",
     {"KeyError", "ValueError"}),
]


@pytest.mark.parametrize(("source", "expected"), EXPECTED_ERRORS)
def test_expected_errors(source, expected):
    ctx = context(source)
    call = marked(ctx, cst.Call)
    assert ctx.expected_errors(call) == expected
