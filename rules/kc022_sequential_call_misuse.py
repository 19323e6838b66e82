"""`Sequential` given its layers one by one, or `model.add` given more than the layer.

## What it does
Flags:

- `Sequential(layer_a, layer_b, ...)`: layers passed as separate arguments instead of one list;
- on Keras 3, `Sequential(layer)` (one layer, no list) and `Sequential([...], "name")` (the
  name by position);
- `model.add(layer, input_shape=...)` and any other keyword but Keras 3's `rebuild`, and
  `model.add(layer_a, layer_b)`: `add` takes one layer, and the rest belonged to the layer or
  to another `add`.

The Sequential is resolved from the file's imports (`keras`, `tf.keras`, `tf_keras`, any alias),
so `torch.nn.Sequential(a, b)` (whose layers ARE positional) is left alone, as are
`Sequential([...], name=...)`, `Sequential(layers=[...])` and a receiver of `.add` that is not
known to be a Keras model (unless the keyword is an input shape, which only a Keras layer takes).

## Why is this bad?
Measured with Keras 3.15 and tf_keras 2.21 (tests/measurements/kc022_sequential_call.py):

- `Sequential(Dense(4), Dense(2))`: the second positional parameter is `trainable` in Keras 3
  (`ValueError: Expected trainable to be a boolean`) and `name` in tf_keras, which builds a
  model of the FIRST layer only, named after the second, without any error. Three layers
  raise in both.
- `Sequential(Dense(4))`: Keras 3 raises `TypeError: 'Dense' object is not iterable` (tf_keras
  wraps it in a list); `Sequential([...], "m")`: Keras 3 raises, the name is `trainable` there.
- `model.add(Dense(4), input_shape=(3,))` and `model.add(Dense(4), activation="relu")` raise
  `TypeError: Sequential.add() got an unexpected keyword argument` in both: the keyword was
  meant for the layer, inside its parentheses.
- `model.add(Dense(8), Activation("relu"))`: tf_keras raises; Keras 3 takes the Activation as
  `add`'s `rebuild` flag and drops it silently (the model has no ReLU).

## Example
    model = keras.Sequential(layers.Dense(64, activation="relu"), layers.Dense(10))
    model.add(layers.Dense(64), input_shape=(32,))
    model.add(layers.Dense(8), layers.Activation("relu"))

## Use instead
    model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(10)])
    model.add(layers.Dense(64, input_shape=(32,)))
    model.add(layers.Dense(8))
    model.add(layers.Activation("relu"))

## Confirm mode
What runs is the slice of the file's imports, definitions and constants the flagged code uses
(README, Confirm mode), then the recipe's build: defining a class of the file runs its
decorators and class body, building it runs its `__init__` (and `build()`/`call()` where the
recipe calls them); other module-level code and `if __name__ == "__main__":` never run.

`--confirm` runs the flagged call itself on fresh layers from its own source (a new
`Sequential()` for `add`) and reports the error Keras raises or, when it does not raise, the
layers the model ended up with (`confirmed` when one is missing); `not reproduced` when the
model holds every layer passed.
"""

from __future__ import annotations

from collections.abc import Iterator

from kerascheck.rule import CallEvent, Context, Hit, MethodCallEvent, Rule, Value

SHAPE_KEYWORDS = frozenset({"input_shape", "input_dim", "batch_input_shape"})

RULE = Rule(
    "KC022", "sequential-call-misuse",
    "{what}",
    severity="error",
    # `Sequential(` with something other than a list first (`[`), or `add` calls beside a Sequential.
    needs=(*((b"Sequential(", f"Sequential({c}".encode()) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz\n"),
           (b"Sequential", b".add(")),
    # Where a Sequential is made (its `add` calls follow it through the calls that tie functions),
    # and the keywords only a layer takes, for `add` on a model handed in.
    anchors=("keras.Sequential", "=input_shape=", "=input_dim="),
)

VALID = [
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential([layers.Dense(4), layers.Dense(2)], name='m')\nm.add(layers.Dense(1))\n",
    # PyTorch's Sequential takes its modules positionally.
    "import torch\nm = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU())\n",
    "from torch.nn import Sequential, Linear\nm = Sequential(Linear(4, 2), Linear(2, 1))\n",
    # tf_keras wraps a single layer in a list, and takes the name by position.
    "import tf_keras\nm = tf_keras.Sequential(tf_keras.layers.Dense(4))\n"
    "n = tf_keras.Sequential([tf_keras.layers.Dense(4)], 'n')\n",
]
INVALID = [
    "import keras\nfrom keras import layers\n"
    "m = keras.Sequential(layers.Dense(4), layers.Dense(2))  # expect: KC022\n",
    "from tensorflow.keras.models import Sequential\nfrom tensorflow.keras.layers import Dense\n"
    "model = Sequential()\nmodel.add(Dense(4), input_shape=(3,))  # expect: KC022\n",
]


def _is_layer(value: Value) -> bool:
    """A Keras layer (a local subclass of one included)."""
    return value.kind == "layer" and value.layer is not None


def _layerish(value: Value) -> bool:
    """A layer, or a `keras.Input` tensor (what a Sequential list may start with)."""
    return _is_layer(value) or (value.kind == "tensor" and value.layer is not None and value.node is value.layer.node)


def _keras3(ctx: Context, flavor: str | None) -> bool:
    return ctx.facts.flavor_keras(flavor) == "3"


def _keras2(ctx: Context, flavor: str | None) -> bool:
    return ctx.facts.flavor_keras(flavor) == "2"


def _sequential(ctx: Context, event: CallEvent) -> str | None:
    call = event.node
    if any(a.star for a in call.args):
        return None
    positional = [a for a in call.args if a.keyword is None]
    values = event.args
    if len(values) != len(positional):
        return None
    flavor = event.canon.flavor
    shown = ctx.code(call.func)
    if len(values) >= 2 and any(_layerish(v) for v in values[1:]) and _layerish(values[0]):
        if len(values) == 2 and _keras2(ctx, flavor):
            effect = ("tf_keras takes the second as the model's `name` and builds a model of the first layer "
                      "only, without an error")
        elif len(values) == 2 and _keras3(ctx, flavor):
            effect = "Keras 3 takes the second as `trainable` and raises ValueError"
        else:
            effect = "the second is read as `trainable` (Keras 3) or `name` (tf_keras), and Keras raises"
        return (f"`{shown}` takes one list of layers, but gets {len(values)} layers as separate arguments: "
                f"{effect}; wrap them in a list")
    if not _keras3(ctx, flavor):
        return None
    if len(values) == 1 and _is_layer(values[0]) and not any(a.keyword for a in call.args):
        return (f"`{shown}` takes a list of layers, but gets one layer: Keras 3 raises TypeError "
                f"('{values[0].layer.short}' object is not iterable); write `[layer]`")
    if len(values) >= 2 and values[1].kind == "literal" and isinstance(values[1].lit, str):
        return (f"The second argument of `{shown}` is `trainable` in Keras 3, not the name: it raises "
                f"ValueError; write `name={ctx.code(positional[1].value)}`")
    return None


def _add(ctx: Context, event: MethodCallEvent) -> str | None:
    receiver = event.receiver
    call = event.node
    if not event.args or not _is_layer(event.args[0]) or any(a.star for a in call.args):
        return None
    known = receiver.kind == "model" and receiver.canon is not None and receiver.canon.name == "keras.Sequential"
    flavor = receiver.canon.flavor if known else event.args[0].layer.canon.flavor
    keywords = [a.keyword.value for a in call.args if a.keyword is not None]
    if _keras3(ctx, flavor):
        keywords = [k for k in keywords if k != "rebuild"]
    if not known:
        keywords = [k for k in keywords if k in SHAPE_KEYWORDS]
    if keywords:
        word = keywords[0]
        return (f"`add()` takes only the layer, so `{word}=` raises TypeError (unexpected keyword argument): "
                f"it belongs inside the layer's parentheses")
    if known and len(event.args) >= 2 and _layerish(event.args[1]):
        if _keras2(ctx, flavor):
            effect = "tf_keras raises TypeError"
        elif _keras3(ctx, flavor):
            effect = "Keras 3 takes it as the `rebuild` flag and silently leaves it out of the model"
        else:
            effect = "Keras 3 silently leaves it out of the model (it becomes the `rebuild` flag), tf_keras raises"
        return f"`add()` takes one layer, but gets a second one: {effect}; add each layer with its own `add()`"
    return None


def check(ctx: Context) -> Iterator[Hit]:
    for event in ctx.picture.calls:
        if event.canon.name == "keras.Sequential" and event.canon.flavor is not None:
            what = _sequential(ctx, event)
            if what is not None:
                yield Hit(event.node, fmt={"what": what}, data={"kind": "sequential"})
    seen: set[int] = set()
    for event in ctx.picture.methods:
        if event.name != "add" or id(event.node) in seen:
            continue
        seen.add(id(event.node))
        what = _add(ctx, event)
        if what is not None:
            yield Hit(event.node, fmt={"what": what}, data={"kind": "add"})
