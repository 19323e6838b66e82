"""The training set-up view (kerascheck/training.py): each model's outputs and each `compile`
call, in every model style and import spelling. Table tests: each row is a small program and
what the view must say about its `compile` calls (or its models)."""

from __future__ import annotations

import pytest

from kerascheck.rule import Loss, Output
from kerascheck.training import LOSS_NAMES, PROBABILITY, REGRESSION
from tests.test_model import context

K3 = "import keras\nfrom keras import layers\n"
TF = "import tensorflow as tf\nfrom tensorflow.keras import layers as L\n"


def _output(o: Output | None) -> str:
    return "?" if o is None else f"{o.label}:{o.activation or '?'}:{o.units or '?'}"


def _loss(loss: Loss | None) -> str:
    if loss is None:
        return "?"
    logits = {True: "T", False: "F", None: "?"}[loss.from_logits]
    return f"{loss.name}/{logits}"


def compiles(source: str) -> list[tuple]:
    """Per compile call: (model kind, outputs, per-output losses, literal, metrics)."""
    out = []
    for comp in context(source).training.compiles:
        model = comp.model
        outputs = None if model is None or model.outputs is None else [_output(o) for o in model.outputs]
        losses = None if comp.losses is None else [_loss(x) for x in comp.losses]
        metrics = None if comp.metrics is None else [m.name for m in comp.metrics]
        out.append((model.kind if model else None, outputs, losses, comp.literal, metrics))
    return out


MODEL_STYLES = [
    # A Sequential list, a string loss written in the call, metrics.
    (K3 + "m = keras.Sequential([layers.Dense(8, activation='relu'), layers.Dense(3)])\n"
     "m.compile(loss='categorical_crossentropy', metrics=['accuracy'])\n",
     [("sequential", ["Dense:linear:3"], ["categorical_crossentropy/F"], True, ["accuracy"])]),
    # `model.add`, as the model is at each compile call; a layer added after a compile call makes
    # that call's outputs unknown (fit trains the model as it ends); `pop` forgets the last layer.
    (K3 + "m = keras.Sequential()\nm.add(layers.Dense(4, activation='relu'))\nm.compile(loss='mse')\n"
     "m.add(layers.Dense(1, activation='sigmoid'))\nm.compile(loss='bce')\nm.pop()\nm.compile(loss='bce')\n",
     [("sequential", ["?"], ["mean_squared_error/F"], True, []),
      ("sequential", ["Dense:sigmoid:1"], ["binary_crossentropy/F"], True, []),
      ("sequential", ["?"], ["binary_crossentropy/F"], True, [])]),
    # Functional, through Activation, Softmax and keras.ops / keras.activations calls; `linear` is
    # looked through.
    (K3 + "i = keras.Input((4,))\nh = layers.Dense(3)(i)\n"
     "a = keras.Model(i, layers.Activation('softmax')(h))\na.compile(loss='categorical_crossentropy')\n"
     "b = keras.Model(i, layers.Softmax()(h))\nb.compile(loss='categorical_crossentropy')\n"
     "c = keras.Model(i, keras.ops.sigmoid(h))\nc.compile(loss='binary_crossentropy')\n"
     "d = keras.Model(i, layers.Activation(keras.activations.softmax)(layers.Activation('linear')(h)))\n"
     "d.compile(loss='categorical_crossentropy')\n"
     "e = keras.Model(i, layers.Activation('linear')(layers.Dense(2, activation='relu')(i)))\n"
     "e.compile(loss='categorical_crossentropy')\n",
     [("functional", ["Activation:softmax:3"], ["categorical_crossentropy/F"], True, []),
      ("functional", ["Softmax:softmax:3"], ["categorical_crossentropy/F"], True, []),
      ("functional", ["keras.ops.sigmoid():sigmoid:3"], ["binary_crossentropy/F"], True, []),
      ("functional", ["Activation:softmax:3"], ["categorical_crossentropy/F"], True, []),
      ("functional", ["Activation:relu:2"], ["categorical_crossentropy/F"], True, [])]),
    # tf.keras spellings: tf.nn.softmax on a KerasTensor (legacy style), a Lambda, tf.nn refs.
    (TF + "i = tf.keras.Input((4,))\nz = L.Dense(5)(i)\n"
     "a = tf.keras.Model(inputs=i, outputs=tf.nn.softmax(z))\na.compile(loss='sparse_categorical_crossentropy')\n"
     "b = tf.keras.Model(i, L.Lambda(lambda t: tf.nn.sigmoid(t))(z))\nb.compile(loss='binary_crossentropy')\n"
     "c = tf.keras.Model(i, L.Lambda(tf.nn.softmax)(z))\nc.compile(loss='categorical_crossentropy')\n"
     "d = tf.keras.Model(i, L.Dense(2, activation=tf.nn.relu)(i))\nd.compile(loss='mse')\n",
     [("functional", ["tf.nn.softmax():softmax:5"], ["sparse_categorical_crossentropy/F"], True, []),
      ("functional", ["Lambda:sigmoid:5"], ["binary_crossentropy/F"], True, []),
      ("functional", ["Lambda:softmax:5"], ["categorical_crossentropy/F"], True, []),
      ("functional", ["Dense:relu:2"], ["mean_squared_error/F"], True, [])]),
    # A same-file factory, compiled under `if __name__ == "__main__":`, then reassigned.
    (K3 + "def build(n=3):\n    return keras.Sequential([layers.Dense(n, activation='softmax')])\n"
     "def build2():\n    i = keras.Input((2,))\n    return keras.Model(i, layers.Dense(4)(i))\n"
     "if __name__ == '__main__':\n    m = build()\n    m.compile(loss='categorical_crossentropy')\n"
     "    m = build2()\n    m.compile(loss='categorical_crossentropy')\n",
     [("sequential", ["Dense:softmax:?"], ["categorical_crossentropy/F"], True, []),
      ("functional", ["Dense:linear:4"], ["categorical_crossentropy/F"], True, [])]),
    # Subclassed: call() ending in a visible layer, in an op, or in a branch; a custom train_step.
    (K3 + "class A(keras.Model):\n    def __init__(self):\n        super().__init__()\n"
     "        self.d = layers.Dense(10)\n    def call(self, x):\n        return self.d(x)\n"
     "class B(A):\n    def call(self, x):\n        return keras.ops.softmax(self.d(x))\n"
     "class C(A):\n    def call(self, x, training=None):\n        if training:\n            return self.d(x)\n"
     "        return keras.ops.softmax(self.d(x))\n"
     "class D(A):\n    def train_step(self, data):\n        return {}\n"
     "for cls in (A, B, C, D):\n    pass\n"
     "A().compile(loss='categorical_crossentropy')\nB().compile(loss='categorical_crossentropy')\n"
     "C().compile(loss='categorical_crossentropy')\nD().compile(loss='categorical_crossentropy')\n",
     [("subclass", ["Dense:linear:10"], ["categorical_crossentropy/F"], True, []),
      ("subclass", ["keras.ops.softmax():softmax:10"], ["categorical_crossentropy/F"], True, []),
      ("subclass", ["?"], ["categorical_crossentropy/F"], True, []),  # differs between branches
      ("subclass", None, None, True, [])]),  # its own train_step: outputs not paired with the loss
    # Reassigned in branches: known when both branches give the same outputs.
    (K3 + "if cond:\n    m = keras.Sequential([layers.Dense(3)])\nelse:\n    m = keras.Sequential([layers.Dense(3)])\n"
     "m.compile(loss='categorical_crossentropy')\n"
     "if cond:\n    m = keras.Sequential([layers.Dense(3)])\nelse:\n"
     "    m = keras.Sequential([layers.Dense(3, activation='softmax')])\nm.compile(loss='categorical_crossentropy')\n",
     [(None, None, None, True, []), (None, None, None, True, [])]),
    # A Sequential handed to code the picture does not follow may get layers there.
    (K3 + "from helpers import add_head\nm = keras.Sequential([layers.Dense(3)])\nprint(m)\n"
     "m.compile(loss='categorical_crossentropy')\nadd_head(m)\nm.compile(loss='categorical_crossentropy')\n",
     [("sequential", ["Dense:linear:3"], ["categorical_crossentropy/F"], True, []),
      ("sequential", ["?"], ["categorical_crossentropy/F"], True, [])]),
    # Not visible: an application, a loaded model, a parameter.
    (K3 + "a = keras.applications.ResNet50()\na.compile(loss='categorical_crossentropy')\n"
     "def f(model):\n    model.compile(loss='categorical_crossentropy')\n",
     [(None, None, None, True, []), (None, None, None, True, [])]),
    # TimeDistributed(Dense), a Conv head (channels-last units, channels-first unknown).
    (K3 + "i = keras.Input((5, 8))\n"
     "a = keras.Model(i, layers.TimeDistributed(layers.Dense(7, activation='softmax'))(i))\n"
     "a.compile(loss='categorical_crossentropy')\nj = keras.Input((8, 8, 3))\n"
     "b = keras.Model(j, layers.Conv2D(1, 1)(j))\nb.compile(loss='binary_crossentropy')\n"
     "c = keras.Model(j, layers.Conv2D(2, 1, data_format='channels_first')(j))\nc.compile(loss='mse')\n",
     [("functional", ["TimeDistributed(Dense):softmax:7"], ["categorical_crossentropy/F"], True, []),
      ("functional", ["Conv2D:linear:1"], ["binary_crossentropy/F"], True, []),
      ("functional", ["Conv2D:linear:?"], ["mean_squared_error/F"], True, [])]),
    # Activations and units from same-file constants; unknown activations; a softmax along axis 1;
    # a slice of a layer's output.
    (K3 + "ACT = 'sigmoid'\nN = 1\ni = keras.Input((4,))\n"
     "a = keras.Model(i, layers.Dense(N, activation=ACT)(i))\na.compile(loss='bce')\n"
     "def g(act):\n    m = keras.Sequential([layers.Dense(2, activation=act)])\n"
     "    m.compile(loss='categorical_crossentropy')\n"
     "b = keras.Model(i, layers.Softmax(axis=1)(layers.Dense(1)(i)))\nb.compile(loss='mse')\n"
     "c = keras.Model(i, layers.Dense(4)(i)[:, :2])\nc.compile(loss='mse')\n",
     [("functional", ["Dense:sigmoid:1"], ["binary_crossentropy/F"], True, []),
      ("functional", ["?"], ["mean_squared_error/F"], True, []),
      ("functional", ["?"], ["mean_squared_error/F"], True, []),
      ("sequential", ["Dense:?:2"], ["categorical_crossentropy/F"], True, [])]),  # functions run after the module
]


@pytest.mark.parametrize("source,expected", MODEL_STYLES, ids=range(len(MODEL_STYLES)))
def test_compiles_know_their_model_outputs(source, expected):
    assert compiles(source) == expected


LOSS_SPELLINGS = [
    ("'categorical_crossentropy'", "categorical_crossentropy/F", True),
    ("'CategoricalCrossentropy'", "categorical_crossentropy/F", True),
    ("'bce'", "binary_crossentropy/F", True),
    ("'BCE'", "binary_crossentropy/F", True),
    ("'mse'", "mean_squared_error/F", True),
    ("'MAPE'", "mean_absolute_percentage_error/F", True),
    ("'huber_loss'", "huber/F", True),
    ("'logcosh'", "log_cosh/F", True),
    ("'kld'", "kl_divergence/F", True),
    ("'no_such_loss'", "?", True),
    ("keras.losses.mse", "mean_squared_error/F", True),
    ("keras.losses.categorical_crossentropy", "categorical_crossentropy/F", True),
    ("keras.losses.CategoricalCrossentropy", "?", True),  # the class itself, not called
    ("keras.losses.CategoricalCrossentropy()", "categorical_crossentropy/F", True),
    ("keras.losses.CategoricalCrossentropy(True)", "categorical_crossentropy/T", True),
    ("keras.losses.SparseCategoricalCrossentropy(from_logits=True)", "sparse_categorical_crossentropy/T", True),
    ("keras.losses.BinaryCrossentropy(from_logits=LOGITS)", "binary_crossentropy/T", True),
    ("keras.losses.BinaryCrossentropy(from_logits=flag)", "binary_crossentropy/?", True),
    ("keras.losses.BinaryCrossentropy(**kw)", "binary_crossentropy/?", True),
    ("keras.losses.BinaryFocalCrossentropy(False, 0.25, 2.0, True)", "binary_focal_crossentropy/T", True),
    ("keras.losses.CategoricalFocalCrossentropy(0.25, 2.0)", "categorical_focal_crossentropy/F", True),
    ("keras.losses.Huber(delta=2.0)", "huber/F", True),
    ("keras.losses.LogCosh()", "log_cosh/F", True),
    ("my_loss", "?", True),
    ("lambda y, p: keras.losses.mse(y, p)", "?", True),
    ("loss_fn", "categorical_crossentropy/T", False),  # a variable: followed, not written in the call
]


@pytest.mark.parametrize("expr,expected,literal", LOSS_SPELLINGS, ids=[r[0] for r in LOSS_SPELLINGS])
def test_loss_spellings(expr, expected, literal):
    source = (K3 + "from mylib import my_loss\nLOGITS = True\n"
              "def f(flag, kw):\n    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)\n"
              "    m = keras.Sequential([layers.Dense(3)])\n"
              f"    m.compile(optimizer='adam', loss={expr})\n")
    [comp] = context(source).training.compiles
    assert _loss(comp.loss) == expected and comp.literal is literal
    assert comp.losses == (None if comp.loss is None else (comp.loss,))


IMPORT_SPELLINGS = [
    "import tensorflow as tf\nLS = tf.keras.losses\nm = tf.keras.Sequential([tf.keras.layers.Dense(2)])\n"
    "m.compile(loss=LS.BinaryCrossentropy(from_logits=True))\n",
    "from tensorflow.keras.losses import BinaryCrossentropy as BCE\nfrom tensorflow.keras import Sequential\n"
    "from tensorflow.keras.layers import Dense\nm = Sequential([Dense(2)])\nm.compile(loss=BCE(True))\n",
    "import tf_keras\nm = tf_keras.Sequential([tf_keras.layers.Dense(2)])\n"
    "m.compile(loss=tf_keras.losses.BinaryCrossentropy(from_logits=True))\n",
    "from keras import losses, models, layers\nm = models.Sequential([layers.Dense(2)])\n"
    "m.compile(loss=losses.BinaryCrossentropy(from_logits=True))\n",
    # `tf.losses` is `tf.keras.losses` in TF 2.
    "import tensorflow as tf\nm = tf.keras.Sequential([tf.keras.layers.Dense(2)])\n"
    "m.compile(loss=tf.losses.BinaryCrossentropy(from_logits=True))\n",
]


@pytest.mark.parametrize("source", IMPORT_SPELLINGS, ids=range(len(IMPORT_SPELLINGS)))
def test_every_import_spelling(source):
    assert compiles(source) == [("sequential", ["Dense:linear:2"], ["binary_crossentropy/T"], True, [])]


PER_OUTPUT = [
    # A list in output order.
    ("loss=['mse', 'categorical_crossentropy']", ["mean_squared_error/F", "categorical_crossentropy/F"]),
    # A dict keyed by the output layers' names; an output left out has no loss.
    ("loss={'kind': 'categorical_crossentropy'}", ["?", "categorical_crossentropy/F"]),
    ("loss={'age': 'mse', 'kind': 'categorical_crossentropy'}", ["mean_squared_error/F", "categorical_crossentropy/F"]),
    # One loss for every output.
    ("loss='mse'", ["mean_squared_error/F", "mean_squared_error/F"]),
    # Not known: a list of the wrong length, a dict with another key, a dict from elsewhere.
    ("loss=['mse']", None),
    ("loss={'other': 'mse'}", None),
    ("loss=LOSSES", None),
]


@pytest.mark.parametrize("arg,expected", PER_OUTPUT, ids=[r[0] for r in PER_OUTPUT])
def test_losses_per_output(arg, expected):
    source = (K3 + "from cfg import LOSSES\ni = keras.Input((4,))\n"
              "m = keras.Model(i, [layers.Dense(1, name='age')(i), layers.Dense(3, name='kind')(i)])\n"
              f"m.compile(optimizer='adam', {arg})\n")
    [(_, outputs, losses, _, _)] = compiles(source)
    assert outputs == ["Dense:linear:1", "Dense:linear:3"] and losses == expected


def test_dict_outputs_are_keyed_by_their_keys():
    source = (K3 + "i = keras.Input((4,))\n"
              "m = keras.Model(i, {'a': layers.Dense(1)(i), 'b': layers.Dense(3, activation='softmax')(i)})\n"
              "m.compile(loss={'b': 'categorical_crossentropy', 'a': 'mse'})\n")
    assert compiles(source) == [("functional", ["Dense:linear:1", "Dense:softmax:3"],
                                 ["mean_squared_error/F", "categorical_crossentropy/F"], True, [])]


def test_one_tensor_under_two_output_keys_gets_both_losses():
    source = (K3 + "i = keras.Input((3,))\no = layers.Dense(1, name='a')(i)\nm = keras.Model(i, {'a': o, 'b': o})\n"
              "m.compile(loss={'a': 'mse', 'b': 'binary_crossentropy'})\n")
    got = [(_output(o), _loss(x)) for _, o, x in context(source).training.pairs()]
    assert got == [("Dense:linear:1", "mean_squared_error/F"), ("Dense:linear:1", "binary_crossentropy/F")]


METRICS = [
    ("metrics=['accuracy', 'mae']", ["accuracy", "mae"]),
    ("metrics=[keras.metrics.BinaryAccuracy(threshold=0.3), keras.metrics.mae]", ["BinaryAccuracy", "mae"]),
    ("metrics=['acc'], weighted_metrics=['accuracy']", ["acc", "accuracy"]),
    ("metrics=ms", ["mae", "accuracy"]),  # grown by append before the call
    ("metrics=gone", None),  # changed by pop: not known
    ("metrics={'out': ['accuracy']}", None),  # per output
    ("metrics=[custom]", [None]),
]


@pytest.mark.parametrize("arg,expected", METRICS, ids=[r[0] for r in METRICS])
def test_metrics(arg, expected):
    source = (K3 + "from mylib import custom\nms = ['mae']\nms.append('accuracy')\ngone = ['accuracy']\ngone.pop()\n"
              f"m = keras.Sequential([layers.Dense(1)])\nm.compile(loss='mse', {arg})\n")
    [(_, _, _, _, metrics)] = compiles(source)
    assert metrics == expected


def test_positional_metrics_are_not_known():
    # tf_keras takes metrics third by position, Keras 3 takes loss_weights there.
    source = K3 + "m = keras.Sequential([layers.Dense(1)])\nm.compile('adam', 'mse', ['accuracy'])\n"
    assert compiles(source) == [("sequential", ["Dense:linear:1"], ["mean_squared_error/F"], True, None)]


def test_compile_reports_at_a_literal_loss_else_at_the_call():
    source = (K3 + "m = keras.Sequential([layers.Dense(3)])\nm.compile(optimizer='adam', loss='mse')\n"
              "l = 'mse'\nm.compile(optimizer='adam', loss=l)\n")
    ctx = context(source)
    first, second = ctx.training.compiles
    assert isinstance(first.where, type(first.loss_arg)) and ctx.code(first.where) == "loss='mse'"
    assert second.where is second.node


def test_models_and_their_members():
    source = (K3 + "a = keras.Sequential()\na.add(layers.Dense(4, activation='relu'))\n"
              "a.add(layers.Dense(2, activation='softmax'))\n"
              "i = keras.Input((3,))\nh = layers.Dense(8)(i)\nb = keras.Model(i, layers.Dense(1)(h))\n"
              "class C(keras.Model):\n    def __init__(self):\n        super().__init__()\n"
              "        self.d = layers.Dense(5, activation='sigmoid')\n    def call(self, x):\n        return self.d(x)\n")
    ctx = context(source)
    view = ctx.training
    got = [(m.kind, [_output(o) for o in m.outputs]) for m in view.models]
    assert got == [("sequential", ["Dense:softmax:2"]), ("functional", ["Dense:linear:1"]),
                   ("subclass", ["Dense:sigmoid:5"])]
    sequential, functional, _ = view.models
    assert ctx.code(sequential.node) == "keras.Sequential()"
    assert sorted(a.layer.short + str(ctx.constant(a.layer.arg("units", 0))) for a in view.members(functional)) \
        == ["Dense1", "Dense8"]


def test_squashes_are_every_softmax_and_sigmoid():
    source = (K3 + "i = keras.Input((4,))\na = layers.Dense(1, activation='softmax')\n"
              "b = layers.Softmax()(layers.Dense(1)(i))\nc = keras.ops.sigmoid(layers.Dense(3)(i))\n"
              "d = layers.Softmax(axis=1)(layers.Dense(1)(i))\ne = layers.Dense(2, activation='relu')(i)\n")
    got = sorted(_output(o) for o in context(source).training.squashes())
    assert got == ["Dense:softmax:1", "Softmax:softmax:1", "keras.ops.sigmoid():sigmoid:3"]


def test_loss_families():
    assert {LOSS_NAMES[s] for s in ("mse", "MAE", "mape", "msle", "huber", "log_cosh", "logcosh", "Huber")} \
        <= REGRESSION
    assert {LOSS_NAMES[s] for s in ("bce", "categorical_crossentropy", "SparseCategoricalCrossentropy",
                                    "KLDivergence", "binary_focal_crossentropy")} <= PROBABILITY
    for name in ("hinge", "Poisson", "cosine_similarity", "CTC"):
        assert LOSS_NAMES[name] not in PROBABILITY | REGRESSION
    loss = Loss("sparse_categorical_crossentropy", None, False)
    assert (loss.family, loss.labels) == ("probability", "sparse")
    assert Loss("mean_squared_error", None, False).family == "regression"
