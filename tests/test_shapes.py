"""The static shape view (kerascheck/shapes.py): table tests of what it claims and what it
leaves unknown, and (marked `confirm`) generated layer stacks built with Keras 3 and tf_keras,
which must agree with the static result on every dimension it claims."""

from __future__ import annotations

import importlib.util
import random

import pytest

from kerascheck.flow import NOT_CONSTANT
from tests.test_model import context

HAS_TF = importlib.util.find_spec("tensorflow") is not None
HAS_TF_KERAS = importlib.util.find_spec("tf_keras") is not None


def shapes_by_line(source: str) -> dict[int, list]:
    """line -> [output shape of each application on that line, in order]."""
    from libcst.metadata import MetadataWrapper, PositionProvider

    ctx = context(source)
    pos = MetadataWrapper(ctx.picture.module, unsafe_skip_copy=True).resolve(PositionProvider)
    out: dict[int, list] = {}
    for app in ctx.picture.applies:
        out.setdefault(pos[app.node].start.line, []).append(ctx.shapes.output(app))
    return out


def last_shape(source: str):
    """The output shape of the last application written in `source`."""
    found = shapes_by_line(source)
    return found[max(found)][-1] if found else "no application"


K = "import keras\nfrom keras import layers\n"
TFK = "import tensorflow as tf\nL = tf.keras.layers\n"

# (source, output shape of the last application)
TABLE = [
    # Sources
    (K + "x = keras.Input(shape=(28, 28, 1))\ny = layers.Conv2D(8, 3)(x)\n", (None, 26, 26, 8)),
    (K + "x = keras.Input((28, 28, 1), batch_size=4)\ny = layers.Conv2D(8, 3)(x)\n", (4, 26, 26, 8)),
    (K + "x = keras.Input(batch_shape=(2, 10, 3))\ny = layers.Conv1D(4, 3)(x)\n", (2, 8, 4)),
    (K + "m = keras.Sequential([layers.Dense(4, input_shape=(7,)), layers.Dense(2)])\n", (None, 2)),
    (K + "m = keras.Sequential([layers.Dense(4, input_dim=7)])\n", (None, 4)),
    ("import tf_keras as keras\nm = keras.Sequential([keras.layers.Dense(4, batch_input_shape=(8, 3, 5))])\n",
     (8, 3, 4)),
    (K + "m = keras.Sequential([keras.Input((6, 2)), layers.LSTM(3)])\n", (None, 3)),
    (K + "m = keras.Sequential([layers.InputLayer(input_shape=(6, 2)), layers.LSTM(3, return_sequences=True)])\n",
     (None, 6, 3)),
    ("import tf_keras as keras\nm = keras.Sequential([keras.layers.LSTM(3, input_dim=5, input_length=9)])\n",
     (None, 3)),
    ("import tf_keras as keras\nm = keras.Sequential([keras.layers.Embedding(100, 8, input_length=12), "
     "keras.layers.Flatten()])\n", (None, 96)),
    # Same-file constants and helper parameters
    (K + "S = 32\nC = (S, S, 3)\nm = keras.Sequential([layers.Conv2D(4, 5, input_shape=C)])\n", (None, 28, 28, 4)),
    (K + "def build(shape=(16, 16, 3), k=3):\n    return keras.Sequential([layers.Conv2D(4, k, input_shape=shape)])\n"
     "m = build(k=5)\n", (None, 12, 12, 4)),
    (K + "def block(x, f, s=1):\n    return layers.Conv2D(f, 3, strides=s, padding='same')(x)\n"
     "x = keras.Input((9, 9, 1))\ny = block(x, 6, s=2)\n", (None, 5, 5, 6)),
    # Convolutions
    (K + "x = keras.Input((28, 28, 1))\ny = layers.Conv2D(8, (5, 3), strides=(2, 1), padding='valid')(x)\n",
     (None, 12, 26, 8)),
    (K + "x = keras.Input((20, 3))\ny = layers.Conv1D(8, 3, dilation_rate=4)(x)\n", (None, 12, 8)),
    (K + "x = keras.Input((20, 3))\ny = layers.Conv1D(8, 4, strides=3, padding='causal')(x)\n", (None, 7, 8)),
    (K + "x = keras.Input((3, 28, 28))\ny = layers.Conv2D(8, 3, data_format='channels_first')(x)\n",
     (None, 8, 26, 26)),
    (K + "x = keras.Input((8, 8, 8, 2))\ny = layers.Conv3D(4, 3, padding='same', strides=2)(x)\n", (None, 4, 4, 4, 4)),
    (K + "x = keras.Input((10, 10, 3))\ny = layers.DepthwiseConv2D(3, depth_multiplier=2)(x)\n", (None, 8, 8, 6)),
    (K + "x = keras.Input((10, 10, 3))\ny = layers.SeparableConv2D(5, 3, padding='same')(x)\n", (None, 10, 10, 5)),
    (K + "x = keras.Input((7, 7, 3))\ny = layers.Conv2DTranspose(5, 3, strides=2)(x)\n", (None, 15, 15, 5)),
    (K + "x = keras.Input((7, 7, 3))\ny = layers.Conv2DTranspose(5, 3, strides=2, padding='same')(x)\n",
     (None, 14, 14, 5)),
    (K + "x = keras.Input((7, 7, 3))\ny = layers.Conv2DTranspose(5, 4, strides=2, padding='same', output_padding=1)(x)\n",
     (None, 13, 13, 5)),
    (K + "x = keras.Input((None, None, 3))\ny = layers.Conv2D(8, 3)(x)\n", (None, None, None, 8)),
    # A conv that collapses keeps the size it computed
    (K + "x = keras.Input((4, 4, 3))\ny = layers.Conv2D(8, 5)(x)\n", (None, 0, 0, 8)),
    # Pooling
    (K + "x = keras.Input((15, 15, 3))\ny = layers.MaxPooling2D()(x)\n", (None, 7, 7, 3)),
    (K + "x = keras.Input((15, 15, 3))\ny = layers.AveragePooling2D(3, strides=2, padding='same')(x)\n",
     (None, 8, 8, 3)),
    (K + "x = keras.Input((15, 4))\ny = layers.MaxPool1D(pool_size=4)(x)\n", (None, 3, 4)),
    ("import tf_keras as keras\nx = keras.Input((8, 8, 3))\ny = keras.layers.AveragePooling2D()(x)\n",
     (None, 4, 4, 3)),
    (K + "x = keras.Input((15, 15, 3))\ny = layers.GlobalAveragePooling2D()(x)\n", (None, 3)),
    (K + "x = keras.Input((15, 15, 3))\ny = layers.GlobalMaxPooling2D(keepdims=True)(x)\n", (None, 1, 1, 3)),
    # Reshaping
    (K + "x = keras.Input((4, 5, 6))\ny = layers.Flatten()(x)\n", (None, 120)),
    (K + "x = keras.Input((4, None, 6))\ny = layers.Flatten()(x)\n", (None, None)),
    (K + "x = keras.Input((4, 5, 6))\ny = layers.Reshape((-1, 6))(x)\n", (None, 20, 6)),
    (K + "x = keras.Input((4, 5, 6))\ny = layers.Permute((3, 1, 2))(x)\n", (None, 6, 4, 5)),
    (K + "x = keras.Input((6,))\ny = layers.RepeatVector(3)(x)\n", (None, 3, 6)),
    (K + "x = keras.Input((4, 5, 2))\ny = layers.UpSampling2D((2, 3))(x)\n", (None, 8, 15, 2)),
    (K + "x = keras.Input((4, 5, 2))\ny = layers.ZeroPadding2D(((1, 0), (2, 2)))(x)\n", (None, 5, 9, 2)),
    (K + "x = keras.Input((4, 5, 2))\ny = layers.Cropping2D((1, 2))(x)\n", (None, 2, 1, 2)),
    # Merging
    (K + "x = keras.Input((4, 5))\ny = layers.Concatenate()([x, layers.Dense(3)(x)])\n", (None, 4, 8)),
    (K + "x = keras.Input((4, 5))\ny = layers.Concatenate(axis=1)([x, x])\n", (None, 8, 5)),
    (K + "x = keras.Input((4, 5))\ny = layers.Add()([x, layers.Dense(5)(x)])\n", (None, 4, 5)),
    (K + "x = keras.Input((4, 5))\ny = layers.Multiply()([x, layers.Dense(1)(x)])\n", (None, 4, 5)),
    # Embedding and recurrent layers
    (K + "x = keras.Input((12,), dtype='int32')\ny = layers.Embedding(100, 16)(x)\n", (None, 12, 16)),
    (K + "x = keras.Input((12, 3))\ny = layers.GRU(7)(x)\n", (None, 7)),
    (K + "x = keras.Input((12, 3))\ny = layers.Bidirectional(layers.LSTM(7, return_sequences=True))(x)\n",
     (None, 12, 14)),
    (K + "x = keras.Input((12, 3))\ny = layers.Bidirectional(layers.LSTM(7), merge_mode='sum')(x)\n", (None, 7)),
    (K + "x = keras.Input((12, 8, 8, 3))\ny = layers.TimeDistributed(layers.Conv2D(4, 3))(x)\n",
     (None, 12, 6, 6, 4)),
    # Identity layers
    (TFK + "x = tf.keras.Input((12, 3))\ny = L.Dropout(0.5)(L.BatchNormalization()(L.Activation('relu')(x)))\n",
     (None, 12, 3)),
    # Branches: the dimensions both agree on
    (K + "x = keras.Input((8, 8, 3))\nif flag:\n    x = layers.Conv2D(4, 3, padding='same')(x)\nelse:\n"
     "    x = layers.Conv2D(4, 5, padding='same')(x)\ny = layers.Dense(2)(x)\n", (None, 8, 8, 2)),
    (K + "x = keras.Input((8, 8, 3))\nif flag:\n    x = layers.Conv2D(4, 3)(x)\ny = layers.Dense(2)(x)\n",
     (None, None, None, 2)),
    # A loop the picture does not unroll: the rank, no dimension
    (K + "x = keras.Input((32, 32, 3))\nfor i in range(n):\n    x = layers.Conv2D(8, 3)(x)\n"
     "y = layers.Conv2D(2, 3)(x)\n", (None, None, None, 2)),
    (K + "x = keras.Input((32, 32, 3))\nfor f in (8, 16):\n    x = layers.Conv2D(f, 3)(x)\n"
     "y = layers.Conv2D(2, 3)(x)\n", (None, 26, 26, 2)),
]

# Unknown is silent: (source, output shape of the last application)
UNKNOWN = [
    # No source of shapes
    (K + "def f(x):\n    return layers.Conv2D(8, 3)(x)\n", None),
    (K + "m = keras.Sequential([layers.Conv2D(8, 3), layers.Dense(2)])\n", None),
    # input_shape on a layer that is not first is ignored by Keras: not a source
    (K + "x = keras.Input((5, 4))\ny = layers.Dense(3, input_shape=(99,))(x)\n", (None, 5, 3)),
    # Keras 3 ignores Embedding's input_length
    (K + "m = keras.Sequential([layers.Embedding(100, 8, input_length=12), layers.Flatten()])\n", None),
    # A size that is not a literal or constant
    (K + "x = keras.Input((size, size, 3))\ny = layers.Conv2D(8, 3)(x)\n", None),
    (K + "x = keras.Input((28, 28, 1))\ny = layers.Conv2D(8, k)(x)\n", None),
    (K + "x = keras.Input((28, 28, 1))\ny = layers.Conv2D(filters, 3)(x)\n", (None, 26, 26, None)),
    # A constant bound twice (branches) is not a constant
    (K + "if a:\n    S = (28, 28, 1)\nelse:\n    S = (1, 28, 28)\nx = keras.Input(S)\ny = layers.Conv2D(8, 3)(x)\n", None),
    # The file sets the image data format: the default is not known
    (K + "keras.backend.set_image_data_format('channels_first')\nx = keras.Input((3, 8, 8))\n"
     "y = layers.Conv2D(8, 3)(x)\n", None),
    (K + "if keras.backend.image_data_format() == 'channels_first':\n    pass\nx = keras.Input((3, 8, 8))\n"
     "y = layers.Conv2D(8, 3)(x)\n", None),
    # Unknown layers stop propagation
    (K + "x = keras.Input((4, 5))\ny = layers.Lambda(lambda t: t)(x)\nz = layers.Dense(2)(y)\n", None),
    (K + "from mylib import Conv2D\nx = keras.Input((8, 8, 3))\ny = Conv2D(4, 3)(x)\n", "no application"),
    # Keras 1 signatures
    (K + "x = keras.Input((28, 28, 1))\ny = layers.Convolution2D(8, 3, 3)(x)\n", None),
    (K + "x = keras.Input((28, 28, 1))\ny = layers.Conv2D(8, 3, border_mode='same')(x)\n", None),
    # Wrong rank for the layer: Keras raises, nothing is claimed
    (K + "x = keras.Input((28, 28))\ny = layers.Conv2D(8, 3)(x)\n", None),
    # Multi-output recurrent layers, an item of an output
    (K + "x = keras.Input((6, 2))\ny, h, c = layers.LSTM(3, return_state=True)(x)\nz = layers.Dense(2)(h)\n", None),
    # A list changed before it reached the layer
    (K + "x = keras.Input((4, 5))\nxs = [x]\nxs.append(x)\ny = layers.Concatenate()(xs)\n", None),
    # Keras 3's average pooling has no default pool_size (tf_keras's has)
    (K + "x = keras.Input((8, 8, 3))\ny = layers.AveragePooling2D()(x)\n", None),
    # Keyword arguments from an unknown dict
    (K + "x = keras.Input((8, 8, 3))\ny = layers.Conv2D(4, 3, **cfg)(x)\n", None),
]


@pytest.mark.parametrize("source,shape", TABLE + UNKNOWN, ids=[f"t{i}" for i in range(len(TABLE + UNKNOWN))])
def test_static_shape(source, shape):
    assert last_shape(source) == shape


def test_a_helper_called_twice_gives_each_call_its_shapes():
    source = (K + "def head(x, n):\n    return layers.Dense(n)(layers.Flatten()(x))\n"
              "x = keras.Input((4, 4, 2))\na = head(x, 3)\nb = head(x, 5)\n")
    assert shapes_by_line(source)[4] == [(None, 32), (None, 3), (None, 32), (None, 5)]


def test_declared_input_and_args():
    ctx = context(K + "N = 3\nm = keras.Sequential([layers.Conv1D(N, 5, input_shape=(None, 4), padding='same')])\n")
    [app] = ctx.picture.applies
    assert app.first
    assert ctx.shapes.declared(app.layer) == (None, None, 4)
    assert ctx.shapes.arg(app.layer, "filters", 0) == 3
    assert ctx.shapes.arg(app.layer, "strides", 2, 1) == 1
    assert ctx.shapes.arg(app.layer, "padding", 3) == "same"
    assert ctx.shapes.output(app) == (None, None, 3)


def test_arg_of_an_unknown_value_is_not_constant():
    ctx = context(K + "m = keras.Sequential([layers.Dense(units, input_shape=shape)])\n")
    [app] = ctx.picture.applies
    assert ctx.shapes.arg(app.layer, "units", 0) is NOT_CONSTANT
    assert ctx.shapes.declared(app.layer) is None


def test_collapse_and_trail():
    source = (K + "m = keras.Sequential()\nm.add(layers.Conv2D(8, 3, input_shape=(32, 32, 3)))\n"
              "m.add(layers.MaxPooling2D())\n" + "m.add(layers.Conv2D(8, 3))\nm.add(layers.MaxPooling2D())\n" * 3)
    ctx = context(source)
    apps = ctx.picture.applies
    collapsed = [a for a in apps if ctx.shapes.collapsed(a)]
    assert len(collapsed) == 1
    trail = ctx.shapes.trail(collapsed[0])
    assert [s[1] for _, s in trail] == [32, 30, 15, 13, 6, 4, 2, 0]
    assert trail[0][0] is None and trail[-1][0] is collapsed[0]
    # Its consumers see an unknown input.
    after = apps[apps.index(collapsed[0]) + 1:]
    assert all(ctx.shapes.input(a) is None for a in after)


def test_consumers():
    ctx = context(K + "x = keras.Input((4,))\na = layers.Dense(3)(x)\nb = layers.Dense(2)(a)\n"
                  "c = layers.Dense(1)(a)\nd = layers.Concatenate()([b, c])\n")
    a, b, c, d = ctx.picture.applies
    assert ctx.shapes.consumers(a) == [b, c]
    assert ctx.shapes.consumers(b) == [d] and ctx.shapes.consumers(d) == []


# ------------------------------------------------------------------ against Keras itself


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF or not HAS_TF_KERAS, reason="TensorFlow or tf_keras is not installed")
def test_table_agrees_with_keras():
    """Each table row that runs on its own (no free names), built by the Keras it imports: the
    shape of the last value equals the row's expected (static) shape, or Keras raises where the
    static shape collapsed."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    ran = 0
    for source, expected in TABLE:
        if any(word in source for word in ("flag", "range(n)")):
            continue
        target = source.rstrip().splitlines()[-1].split("=", 1)[0].strip()
        ns: dict = {}
        try:
            exec(source, ns)  # noqa: S102 - the table's own code
        except ValueError:
            assert any(d is not None and d <= 0 for d in expected), source
            continue
        value = ns[target]
        real = tuple(value.outputs[0].shape if hasattr(value, "outputs") else value.shape)
        assert real == expected, (source, real)
        ran += 1
    assert ran >= 45


def _choice(rng, options):
    return options[rng.randrange(len(options))]


def generate(rng: random.Random) -> tuple[str, list[str]]:
    """A random functional stack: source lines (after the imports) and each layer's variable."""
    rank = _choice(rng, [1, 2, 3, 4])  # without batch
    spatial = rank - 1
    first = rank >= 3 and rng.random() < 0.2  # channels_first
    if rank == 1:
        shape = (rng.randint(2, 12),)
    else:
        dims = [_choice(rng, [rng.randint(3, 40), rng.randint(3, 12)]) for _ in range(spatial)]
        if spatial == 3:
            dims = [rng.randint(3, 10) for _ in range(3)]
        if rng.random() < 0.1:
            dims[0] = None
        shape = (*dims, rng.randint(1, 5))
    lines = [f"x0 = keras.Input(shape={shape!r})"]
    names = []
    n = 0
    current = "x0"
    for _ in range(rng.randint(1, 7)):
        n += 1
        name = f"x{n}"
        layer = None
        if rank >= 2 and rng.random() < 0.6:
            d = rank - 1
            kind = _choice(rng, ["conv", "conv", "pool", "pool", "gpool", "up", "pad", "crop", "transpose",
                                 "depthwise", "separable"] + (["rnn", "bidi", "td"] if d == 1 else []))
            k = _choice(rng, [1, 2, 3, 5, (2, 3, 1)[:d] if d > 1 else 2])
            s = _choice(rng, [1, 1, 2, 3])
            dil = _choice(rng, [1, 1, 2]) if s == 1 else 1
            pad = _choice(rng, ["valid", "same"] + (["causal"] if d == 1 and kind == "conv" else []))
            fmt = ", data_format='channels_first'" if first else ""
            if kind == "conv":
                layer = f"layers.Conv{d}D({rng.randint(1, 9)}, {k!r}, strides={s}, padding={pad!r}, dilation_rate={dil}{fmt})"
            elif kind == "transpose" and d > 1:
                op = ""
                if rng.random() < 0.3 and s > 1:
                    op = f", output_padding={rng.randint(0, s - 1)}"
                layer = f"layers.Conv{d}DTranspose({rng.randint(1, 9)}, {k!r}, strides={s}, padding={pad!r}{op}{fmt})"
            elif kind == "depthwise" and d <= 2:
                layer = f"layers.DepthwiseConv{d}D({k!r}, strides={s}, padding={pad!r}, depth_multiplier={rng.randint(1, 3)}{fmt})"
            elif kind == "separable" and d <= 2:
                layer = f"layers.SeparableConv{d}D({rng.randint(1, 9)}, {k!r}, strides={s}, padding={pad!r}{fmt})"
            elif kind == "pool":
                p = _choice(rng, [2, 3, (2, 1, 3)[:d] if d > 1 else 4])
                st = _choice(rng, ["None", "1", "2"])
                cls = _choice(rng, ["MaxPooling", "AveragePooling", "MaxPool"])
                layer = f"layers.{cls}{d}D({p!r}, strides={st}, padding={_choice(rng, ['valid', 'same'])!r}{fmt})"
            elif kind == "gpool":
                keep = _choice(rng, [False, True])
                layer = f"layers.Global{_choice(rng, ['Average', 'Max'])}Pooling{d}D(keepdims={keep}{fmt})"
                if not keep:
                    rank = 1
            elif kind == "up":
                size = _choice(rng, [2, 3]) if d == 1 else _choice(rng, [2, (1, 2, 3)[:d]])
                layer = f"layers.UpSampling{d}D({size!r}{fmt if d > 1 else ''})"
            elif kind == "pad":
                p = _choice(rng, [1, 2, ((1, 0), (0, 2), (1, 1))[:d]]) if d > 1 else _choice(rng, [1, (2, 0)])
                layer = f"layers.ZeroPadding{d}D({p!r}{fmt if d > 1 else ''})"
            elif kind == "crop":
                c = _choice(rng, [1, ((1, 0), (0, 1), (1, 1))[:d]]) if d > 1 else _choice(rng, [1, (1, 0)])
                layer = f"layers.Cropping{d}D({c!r}{fmt if d > 1 else ''})"
            elif kind in ("rnn", "bidi"):
                seq = _choice(rng, [True, False])
                rnn = f"layers.{_choice(rng, ['LSTM', 'GRU', 'SimpleRNN'])}({rng.randint(1, 6)}, return_sequences={seq})"
                layer = f"layers.Bidirectional({rnn}, merge_mode={_choice(rng, ['concat', 'sum'])!r})" if kind == "bidi" else rnn
                if not seq:
                    rank = 1
            elif kind == "td":
                layer = f"layers.TimeDistributed(layers.Dense({rng.randint(1, 6)}))"
        if layer is None:
            kind = _choice(rng, ["dense", "flatten", "reshape", "ident", "merge", "permute", "repeat"])
            if kind == "dense":
                layer = f"layers.Dense({rng.randint(1, 9)})"
            elif kind == "flatten" and rank > 1:
                layer = "layers.Flatten()"
                rank = 1
            elif kind == "reshape" and rank == 1:
                layer = "layers.Reshape((-1, 1))"
                rank = 2
            elif kind == "permute" and rank >= 2:
                dims = list(range(1, rank + 1))
                rng.shuffle(dims)
                layer = f"layers.Permute({tuple(dims)!r})"
            elif kind == "repeat" and rank == 1:
                layer = f"layers.RepeatVector({rng.randint(1, 4)})"
                rank = 2
            elif kind == "merge":
                side = f"layers.Dense({rng.randint(1, 4)})({current})"
                lines.append(f"{name}b = {side}")
                if rng.random() < 0.5:
                    layer = "layers.Concatenate()"
                else:
                    lines.append(f"{name}c = layers.Dense(1)({current})")
                    lines.append(f"{name} = layers.{_choice(rng, ['Add', 'Multiply'])}()([{name}b, {name}c])")
                    names.append(name)
                    current = name
                    continue
                lines.append(f"{name} = {layer}([{current}, {name}b])")
                names.append(name)
                current = name
                continue
            else:
                layer = _choice(rng, ["layers.Dropout(0.5)", "layers.BatchNormalization()",
                                      "layers.Activation('relu')", "layers.LayerNormalization()"])
        lines.append(f"{name} = {layer}({current})")
        names.append(name)
        current = name
    return "\n".join(lines) + "\n", names


def _static(source: str, names: list[str]) -> dict[str, object]:
    ctx = context(source)
    by_name = {}
    for app in ctx.picture.applies:
        target = ctx.parent(ctx.parent(app.node)) if app.call is not None else None
        code = ctx.code(target) if target is not None else ""
        name = code.split("=", 1)[0].strip()
        if name in names:
            by_name[name] = ctx.shapes.output(app)
    return by_name


@pytest.mark.confirm
@pytest.mark.skipif(not HAS_TF, reason="TensorFlow is not installed")
@pytest.mark.parametrize("library", ["keras", "tf_keras"])
def test_generated_stacks_agree_with_keras(library):
    """300 random stacks per library: every dimension the static view claims is Keras's."""
    if library == "tf_keras" and not HAS_TF_KERAS:
        pytest.skip("tf_keras is not installed")
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    keras = importlib.import_module(library)
    rng = random.Random(19)
    claimed = checked = raised = unverified = 0
    for _ in range(300):
        body, names = generate(rng)
        source = f"import {library} as keras\nfrom {library} import layers\n" + body
        static = _static(source, names)
        ns = {"keras": keras, "layers": keras.layers}
        error = None
        for line in body.splitlines():
            try:
                exec(line, ns)  # noqa: S102 - generated code
            except Exception as exc:  # noqa: BLE001 - Keras refuses the stack here
                error = (line, exc)
                break
        for name in names:
            shape = static.get(name)
            if name not in ns:
                # Keras raised at this layer. When the static view knew every dimension of its
                # input, it must have seen the collapse (a None dimension may be Keras's None,
                # which some layers refuse).
                before = static.get(names[names.index(name) - 1]) if names.index(name) else None
                if (error is not None and error[0].startswith(name + " ") and shape is not None
                        and before is not None and all(d is not None for d in before[1:])):
                    assert any(d is not None and d <= 0 for d in shape), (source, name, shape, error)
                    raised += 1
                break
            real = tuple(ns[name].shape)
            if shape is None:
                continue
            assert len(shape) == len(real), (source, name, shape, real)
            for i, (d, r) in enumerate(zip(shape, real)):
                if d is None:
                    continue
                if r is None:
                    # Keras 3's symbolic shapes are its compute_output_shape: it never loses a
                    # dimension. tf_keras's graph ops sometimes do (UpSampling2D on an unknown
                    # height forgets the width too); then nothing contradicts the static claim,
                    # and a size <= 0 there is a collapse tf_keras meets only at run time.
                    assert library == "tf_keras", (source, name, shape, real)
                    unverified += 1
                    continue
                # A size <= 0 is a collapse: Keras 3 raises (checked above); tf_keras's graph ops
                # clamp some to 0 (Cropping) and build.
                assert d == r or (d <= 0 and r <= 0), (source, name, shape, real)
                claimed += 1
            checked += 1
    assert checked > 600 and claimed > 1500 and raised > 5, (checked, claimed, raised)
    assert unverified < claimed / 50, (unverified, claimed)
