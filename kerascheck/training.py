"""The training set-up: what each model outputs, and how it is compiled.

One view, computed from the picture on first use (`Picture.training`, `Context.training`), for
the rules that pair a model's last layer with its loss and metrics. What it knows:

- `models`: the file's models (a `Sequential` built from a list or by `add`, a functional
  `Model(inputs, outputs)`, a subclassed `keras.Model` whose `call()` ends in a visible layer),
  each with its outputs;
- `compiles`: every `<model>.compile(...)` call on a model value the picture followed there
  (through reassignments, factories of this file or of the project's other modules, branches,
  `if __name__ == "__main__":`), with
  the model as it was at that call, the loss of each output and the metrics;
- `output(value)`: what a tensor value is the output of: its last layer, its activation and
  the size of its last axis, looking through `Activation`/`Softmax`/`ReLU` layers, Lambdas
  and `tf.nn.*` / `keras.activations.*` / `keras.ops.*` calls;
- `squashes()`: every softmax and sigmoid the file applies, with the units it applies to.

Losses are classified once here for every rule: `Loss.family` is "probability" (cross-entropies
and KL divergence), "regression" (mse, mae, mape, msle, huber, log_cosh) or "other", from the
string aliases of Keras 3 and tf_keras and from the `keras.losses` classes and functions under
every import spelling. Anything that is not a literal (or a same-file constant) or not visible
is None, "unknown": rules stay silent on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from kerascheck.flow import NOT_CONSTANT
from kerascheck.picture import (
    Apply,
    CallEvent,
    KerasClass,
    LayerDef,
    MethodCallEvent,
    Picture,
    Snapshot,
    Value,
    call_arg,
    literal_string,
)

MAX_DEPTH = 12  # layers followed back from an output through activation-only layers
# What a rule on the training set-up needs parsed (`Rule.anchors`): the functions that compile or
# build a model, and those that make a softmax layer (`Dense(1, activation="softmax")`, KC007
# without a compile). The helpers such a function calls (its last layers, a `model.add` helper, a
# loss factory) are parsed with it (parse.py's ties), so losses need no anchor of their own.
ANCHORS = (".compile", "keras.Sequential", "keras.Model", "keras.Functional", "keras.layers.Softmax",
           "keras.activations.softmax", "keras.ops.softmax", "keras.backend.softmax", "tensorflow.nn.softmax",
           "tensorflow.math.softmax", '="softmax"', "='softmax'")
CUSTOM_TRAINING = frozenset({"train_step", "compute_loss"})  # a subclass that computes its own loss

# ------------------------------------------------------------------ losses

# Canonical loss function name -> the label form it takes (probability losses) or its family.
CROSS_ENTROPIES = {  # KERAS_FACTS_2 N1, N8: the losses that take probabilities or, with from_logits, logits
    "categorical_crossentropy": "categorical",
    "sparse_categorical_crossentropy": "sparse",
    "binary_crossentropy": "binary",
    "categorical_focal_crossentropy": "categorical",
    "binary_focal_crossentropy": "binary",
}
PROBABILITY = frozenset({*CROSS_ENTROPIES, "kl_divergence"})
REGRESSION = frozenset({  # KERAS_FACTS_2 N7
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "huber", "log_cosh",
})
OTHER = frozenset({"hinge", "squared_hinge", "categorical_hinge", "poisson", "cosine_similarity", "dice",
                   "tversky", "ctc", "circle"})


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


# Every spelling Keras 3 (`keras.losses.get`) or tf_keras accepts as a string, and every name
# `keras.losses` exports, -> the canonical function name.
LOSS_NAMES: dict[str, str] = {}
for _name in (*PROBABILITY, *REGRESSION, *OTHER):
    LOSS_NAMES[_name] = _name
LOSS_CLASSES = {  # class name -> function name
    "CategoricalCrossentropy": "categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "BinaryCrossentropy": "binary_crossentropy",
    "CategoricalFocalCrossentropy": "categorical_focal_crossentropy",
    "BinaryFocalCrossentropy": "binary_focal_crossentropy",
    "KLDivergence": "kl_divergence",
    "MeanSquaredError": "mean_squared_error",
    "MeanAbsoluteError": "mean_absolute_error",
    "MeanAbsolutePercentageError": "mean_absolute_percentage_error",
    "MeanSquaredLogarithmicError": "mean_squared_logarithmic_error",
    "Huber": "huber",
    "LogCosh": "log_cosh",
    "CTC": "ctc",
    **{_camel(n): n for n in OTHER if n != "ctc"},
}
LOSS_NAMES.update(LOSS_CLASSES)
LOSS_NAMES.update({
    "bce": "binary_crossentropy", "BCE": "binary_crossentropy",
    "kld": "kl_divergence", "KLD": "kl_divergence", "kullback_leibler_divergence": "kl_divergence",
    "mse": "mean_squared_error", "MSE": "mean_squared_error",
    "mae": "mean_absolute_error", "MAE": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error", "MAPE": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error", "MSLE": "mean_squared_logarithmic_error",
    "logcosh": "log_cosh", "huber_loss": "huber",  # tf_keras only
})
# `tf.losses` and `tf.metrics` are `tf.keras.losses` and `tf.keras.metrics` in TF 2 (measured: the same classes).
LOSS_MODULES = ("keras.losses.", "tensorflow.losses.")
METRIC_MODULES = ("keras.metrics.", "tensorflow.metrics.")
# Where `from_logits` goes by position in each loss class (Keras 3 and tf_keras agree).
FROM_LOGITS_POSITION = {"BinaryCrossentropy": 0, "CategoricalCrossentropy": 0, "SparseCategoricalCrossentropy": 0,
                        "BinaryFocalCrossentropy": 3, "CategoricalFocalCrossentropy": 2}

# ------------------------------------------------------------------ activations

ACTIVATIONS = frozenset({  # names `keras.activations` (Keras 3 and tf_keras) and Activation("...") know
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish",
    "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish", "relu", "relu6", "selu",
    "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign", "sparse_plus", "sparse_sigmoid",
    "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink", "threshold",
})
# Functions that apply an activation, by canonical name (the `keras.*` namespaces are added below).
ACTIVATION_FUNCTIONS = {
    "tensorflow.nn.softmax": "softmax", "tensorflow.math.softmax": "softmax",
    "tensorflow.nn.sigmoid": "sigmoid", "tensorflow.sigmoid": "sigmoid", "tensorflow.math.sigmoid": "sigmoid",
    "tensorflow.nn.relu": "relu", "tensorflow.nn.relu6": "relu6", "tensorflow.nn.tanh": "tanh",
    "tensorflow.tanh": "tanh", "tensorflow.math.tanh": "tanh", "tensorflow.nn.elu": "elu",
    "tensorflow.nn.selu": "selu", "tensorflow.nn.softplus": "softplus", "tensorflow.math.softplus": "softplus",
    "tensorflow.nn.leaky_relu": "leaky_relu", "tensorflow.nn.log_softmax": "log_softmax",
    "tensorflow.math.log_softmax": "log_softmax", "tensorflow.nn.swish": "swish", "tensorflow.nn.silu": "silu",
    "tensorflow.nn.gelu": "gelu",
}
ACTIVATION_NAMESPACES = ("keras.activations.", "keras.ops.", "keras.backend.")
AXIS_ACTIVATIONS = frozenset({"softmax", "log_softmax"})  # normalise along an axis (the last by default)
SQUASHES = frozenset({"softmax", "sigmoid"})

# Layers whose `activation` argument (default: linear) is applied to their output.
# name -> (units keyword or None, its position, activation position)
WEIGHT_LAYERS: dict[str, tuple[str | None, int | None, int | None]] = {
    "keras.layers.Dense": ("units", 0, 1),
    "keras.layers.EinsumDense": (None, None, None),
    **{f"keras.layers.{name}": ("filters", 0, None) for name in (
        "Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D",
        "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Convolution2DTranspose",
        "Convolution3DTranspose", "SeparableConv1D", "SeparableConv2D", "SeparableConvolution1D",
        "SeparableConvolution2D", "LocallyConnected1D", "LocallyConnected2D")},
    "keras.layers.DepthwiseConv1D": (None, None, None),
    "keras.layers.DepthwiseConv2D": (None, None, None),
}
WRAPPERS = frozenset({"keras.layers.TimeDistributed"})  # apply the wrapped layer to every step


# ------------------------------------------------------------------ records


@dataclass(frozen=True, eq=False)
class Loss:
    """A loss as `compile` receives it. `from_logits`: the literal given (False when absent, and
    for losses that have no such argument), None when it is not a literal."""

    name: str  # canonical function name: "categorical_crossentropy", "mean_squared_error", ...
    node: cst.CSTNode  # the string, the class construction or the function reference
    from_logits: bool | None
    construction: cst.Call | None = None  # `keras.losses.X(...)`, when it is one

    @property
    def family(self) -> str:
        """ "probability" | "regression" | "other"."""
        return "probability" if self.name in PROBABILITY else "regression" if self.name in REGRESSION else "other"

    @property
    def labels(self) -> str | None:
        """The targets a cross-entropy expects: "categorical" (one-hot), "sparse" (class
        indices) or "binary" (0/1 per unit); None for other losses."""
        return CROSS_ENTROPIES.get(self.name)

    def __repr__(self) -> str:
        return f"Loss({self.name}, from_logits={self.from_logits})"


@dataclass(frozen=True, eq=False)
class Metric:
    """One entry of `metrics=[...]`: `name` is the string given (`"accuracy"`) or the short name
    of the `keras.metrics` class or function (`"BinaryAccuracy"`); None when not known."""

    name: str | None
    node: cst.CSTNode | None
    construction: cst.Call | None = None

    def __repr__(self) -> str:
        return f"Metric({self.name})"


@dataclass(frozen=True, eq=False)
class Output:
    """What produces one model output (or any tensor), as far as it is visible.

    `activation` is the last function applied ("softmax", "sigmoid", "linear", "relu", ...: an
    `Activation("linear")` is looked through), None when not known; a softmax along another
    axis than the last is not known. `units` is the literal size of the last axis (`Dense(units)`,
    a Conv's `filters` in channels-last data), None when not known. `chain` lists, in order, the
    layers (LayerDef) and op calls (cst.Call) from the layer that sets `units` to the output.
    """

    node: cst.CSTNode  # the last layer's construction, or the op call
    layer: LayerDef | None  # the last layer; None when an op call (`tf.nn.softmax(z)`) made it
    activation: str | None
    activation_node: cst.CSTNode | None  # the layer or call that applies `activation`
    units: int | None
    units_layer: LayerDef | None
    chain: tuple[LayerDef | cst.Call, ...]
    name: str | None = None  # the literal `name=` of the last layer (loss dicts use it)

    @property
    def label(self) -> str:
        """`Dense`, `Activation`, `TimeDistributed(Dense)`, or the op's name (`softmax`)."""
        if self.layer is None:
            return f"{_dotted(self.node.func)}()" if isinstance(self.node, cst.Call) else "op"
        if self.layer.name in WRAPPERS and self.units_layer is not None and self.units_layer is not self.layer:
            return f"{self.layer.short}({self.units_layer.short})"
        return self.layer.short

    def key(self) -> tuple:
        return (id(self.node), self.activation, self.units)

    def __repr__(self) -> str:
        return f"Output({self.label}, activation={self.activation}, units={self.units})"


@dataclass(frozen=True, eq=False)
class Model:
    """A model and its outputs. kind: "sequential" | "functional" | "subclass".

    `outputs` is None when not known; an item is None when that output is not visible.
    `names` are the output names a loss dict is keyed by (a dict output's keys, else each
    output layer's literal `name=`), None where not known."""

    node: cst.CSTNode  # Sequential(...) / Model(...) / the subclass's class statement
    kind: str
    outputs: tuple[Output | None, ...] | None
    names: tuple[str | None, ...] = ()
    values: tuple[Value, ...] = ()  # the output tensors
    cls: KerasClass | None = None

    def signature(self) -> tuple | None:
        if self.outputs is None or any(o is None for o in self.outputs):
            return None
        return (self.kind, tuple(o.key() for o in self.outputs))

    def __repr__(self) -> str:
        return f"Model({self.kind}, {self.outputs})"


@dataclass(frozen=True, eq=False)
class Compile:
    """A `<model>.compile(...)` call on a model value the picture followed to it.

    `loss` is the loss when one is given for every output; `losses` is the loss of each of
    `model.outputs` in order (an item None: that output's loss is not known or not given),
    None when the mapping to the outputs is not known. `literal`: the loss is written in the
    call itself (a string, a loss construction or reference, a list or dict display)."""

    event: MethodCallEvent
    model: Model | None
    loss: Loss | None
    losses: tuple[Loss | None, ...] | None
    loss_arg: cst.Arg | None
    literal: bool
    metrics: tuple[Metric, ...] | None  # `metrics=` and `weighted_metrics=` lists; None: not known

    @property
    def node(self) -> cst.Call:
        return self.event.node

    @property
    def where(self) -> cst.CSTNode:
        """Where a finding about the loss is reported: the `loss=` argument when the loss is
        written in the call, else the call."""
        return self.loss_arg if self.literal and self.loss_arg is not None else self.event.node

    def pairs(self) -> Iterator[tuple[Output, Loss]]:
        """Each visible output with its known loss."""
        if self.model is None or self.model.outputs is None or self.losses is None:
            return
        for output, loss in zip(self.model.outputs, self.losses):
            if output is not None and loss is not None:
                yield output, loss

    def __repr__(self) -> str:
        return f"Compile({self.model!r}, losses={self.losses}, metrics={self.metrics})"


# ------------------------------------------------------------------ the view


class Training:
    """The training set-up of one file (see the module docstring)."""

    def __init__(self, pic: Picture) -> None:
        self.pic = pic
        self._calls: dict[int, list[CallEvent]] | None = None
        self._layers: dict[int, LayerDef] | None = None
        self._models: list[Model] | None = None
        self._final: dict[int, list[Apply]] | None = None
        self._compiles: list[Compile] | None = None
        self._outputs: dict[int, Output | None] = {}

    # -- models ------------------------------------------------------------------------

    @property
    def models(self) -> list[Model]:
        """Every model the file builds: Sequential models (with their layers as they end up),
        functional models, subclassed models."""
        if self._models is None:
            self._models = [*self._sequentials(), *self._functionals(), *self._subclasses()]
        return self._models

    def _finals(self) -> dict[int, list[Apply]]:
        """Each Sequential model's last applications as the file leaves it (the ones no other
        layer of the model consumes), by model."""
        if self._final is None:
            groups: dict[int, list[Apply]] = {}
            for app in self.pic.applies:
                if app.model is not None:
                    groups.setdefault(app.model, []).append(app)
            self._final = {}
            for oid, apps in groups.items():
                consumed = {id(p) for a in apps for p in self.pic.producers(a)}
                self._final[oid] = [a for a in apps if id(a) not in consumed]
        return self._final

    def _sequentials(self) -> Iterator[Model]:
        for oid, last in self._finals().items():
            node = self.pic.sequentials.get(oid, last[0].node)
            values = tuple(Value("tensor", node=a.node, app=a) for a in last)
            output = self.output(values[0]) if len(values) == 1 else None
            yield Model(node, "sequential", (output,), (output.name if output else None,), values)

    def _functionals(self) -> Iterator[Model]:
        seen: set[int] = set()
        for event in self.pic.models:
            if id(event.node) in seen:
                continue
            seen.add(id(event.node))
            yield self._functional(event.node, event.outputs, event.state)

    def _functional(self, node: cst.CSTNode, outputs: Value | None, state: Snapshot) -> Model:
        if outputs is None:
            return Model(node, "functional", None)
        if outputs.kind == "seq":
            items = state.items(outputs)
            if not items:
                return Model(node, "functional", None)
            described = tuple(self.output(v) for v in items)
            return Model(node, "functional", described, tuple(o.name if o else None for o in described),
                         tuple(items))
        if outputs.kind == "dict":
            entries = state.entries(outputs)
            if not entries:
                return Model(node, "functional", None)
            described = tuple(self.output(v) for v in entries.values())
            return Model(node, "functional", described, tuple(entries), tuple(entries.values()))
        output = self.output(outputs)
        if output is None and outputs.kind != "tensor":
            return Model(node, "functional", None)
        return Model(node, "functional", (output,), (output.name if output else None,), (outputs,))

    def _subclasses(self) -> Iterator[Model]:
        for kc in self.pic.classes:
            if kc.kind == "model":
                yield self._subclass(kc)

    def _subclass(self, kc: KerasClass) -> Model:
        value = kc.output
        if value is None or value.kind not in ("tensor", "const", "union") or CUSTOM_TRAINING & set(kc.methods):
            return Model(kc.node, "subclass", None, cls=kc)
        output = self.output(value)
        return Model(kc.node, "subclass", (output,), (output.name if output else None,), (value,), cls=kc)

    def model_of(self, receiver: Value, state: Snapshot) -> Model | None:
        """The model a value is, at a call whose snapshot is `state`; None when not known. A
        value bound differently in branches is known when every branch gives the same outputs."""
        found = []
        for alt in receiver.alternatives():
            model = self._one_model(alt, state)
            if model is None:
                return None
            found.append(model)
        if not found:
            return None
        first = found[0].signature()
        if len(found) > 1 and (first is None or any(m.signature() != first for m in found[1:])):
            return None
        return found[0]

    def _one_model(self, value: Value, state: Snapshot) -> Model | None:
        if value.kind == "model" and value.oid is not None:  # Sequential
            last = state.sequential_output(value)
            if last is None:
                return None
            output = self.output(last)
            final = {id(a) for a in self._finals().get(value.oid, ())}
            if {id(alt.app) for alt in last.alternatives()} != final:
                output = None  # layers added after this call: `fit` trains what the model ends as
            return Model(value.node, "sequential", (output,), (output.name if output else None,), (last,))
        if value.kind == "model" and value.canon is not None and value.canon.name in ("keras.Model", "keras.Functional"):
            events = [e for e in self.pic.models if e.node is value.node]
            models = [self._functional(e.node, e.outputs, e.state) for e in events]
            if not models:
                return None
            signature = models[0].signature()
            return models[0] if all(m.signature() == signature for m in models[1:]) else None
        if value.kind in ("layer", "self") and value.cls is not None and value.cls.kind == "model":
            return self._subclass(value.cls)
        return None

    def members(self, model: Model) -> list[Apply]:
        """The layer applications that lead to the model's outputs (each once)."""
        seen: dict[int, Apply] = {}
        stack = [alt.app for value in model.values for alt in value.alternatives() if alt.app is not None]
        while stack:
            app = stack.pop()
            if id(app) in seen:
                continue
            seen[id(app)] = app
            stack.extend(self.pic.producers(app))
        return list(seen.values())

    # -- compile calls -------------------------------------------------------------------

    @property
    def compiles(self) -> list[Compile]:
        if self._compiles is None:
            self._compiles = [self._compile(e) for e in self.pic.methods if e.name == "compile"]
        return self._compiles

    def pairs(self) -> Iterator[tuple[Compile, Output, Loss]]:
        """Every visible output with its known loss, over every `compile` call: the "last layer
        vs loss" view. Each (call, output, loss) once, also when a helper that compiles its
        argument is called for the same model twice."""
        seen: set[tuple[int, int, int]] = set()
        for comp in self.compiles:
            for output, loss in comp.pairs():
                key = (id(comp.node), id(output.node), id(loss.node))
                if key not in seen:
                    seen.add(key)
                    yield comp, output, loss

    def _compile(self, event: MethodCallEvent) -> Compile:
        model = self.model_of(event.receiver, event.state)
        call = event.node
        opaque = any(a.star for a in call.args)
        loss_arg = None if opaque else _arg(call, "loss", 1)
        loss_value = None
        if loss_arg is not None:
            kwargs = dict(event.kwargs)
            loss_value = kwargs.get("loss") if loss_arg.keyword is not None else \
                (event.args[1] if len(event.args) > 1 else None)
        loss = self.loss(loss_value) if loss_value is not None else None
        losses = None
        if loss_value is not None and model is not None and model.outputs is not None:
            losses = self._per_output(loss, loss_value, model, event.state)
        literal = loss_arg is not None and loss_value is not None and _written_in(loss_value, loss_arg)
        metrics = None if opaque else self._metrics(event)
        return Compile(event, model, loss, losses, loss_arg, literal, metrics)

    def _per_output(self, loss: Loss | None, value: Value, model: Model, state: Snapshot):
        count = len(model.outputs)
        if loss is not None:
            return (loss,) * count  # one loss for every output
        if value.kind == "seq":
            items = state.items(value)
            if items is None or len(items) != count:
                return None
            return tuple(self.loss(v) for v in items)
        if value.kind == "dict":
            entries = state.entries(value)
            if entries is None or not model.names or any(n is None for n in model.names) \
                    or not set(entries) <= set(model.names):
                return None
            return tuple(self.loss(entries[n]) if n in entries else None for n in model.names)
        return None

    def loss(self, value: Value) -> Loss | None:
        """The loss a value is: a string alias, a `keras.losses` function, or a `keras.losses`
        class construction (with its `from_logits`); None for anything else."""
        if value.kind == "literal" and isinstance(value.lit, str):
            name = LOSS_NAMES.get(value.lit)
            return Loss(name, value.node, False) if name else None
        if value.kind == "ref" and value.canon is not None and value.canon.name.startswith(LOSS_MODULES):
            short = value.canon.short
            if short in LOSS_CLASSES or short not in LOSS_NAMES:
                return None  # a class handed over uncalled, or not a loss
            return Loss(LOSS_NAMES[short], value.node, False)
        if value.kind == "object" and value.canon is not None and value.canon.name.startswith(LOSS_MODULES) \
                and isinstance(value.node, cst.Call):
            short = value.canon.short
            if short not in LOSS_CLASSES:
                return None
            return Loss(LOSS_CLASSES[short], value.node, self._from_logits(value.node, short), value.node)
        return None

    def _from_logits(self, call: cst.Call, short: str) -> bool | None:
        if any(a.star for a in call.args):
            return None
        if short not in FROM_LOGITS_POSITION:
            return False  # no such argument
        expr = call_arg(call, "from_logits", FROM_LOGITS_POSITION[short])
        if expr is None:
            return False
        events = self._call_events().get(id(call), [])  # where the loss was made: its names
        value = self._constant(expr, events[0].site.scope if events else None)
        return value if isinstance(value, bool) else None

    def _metrics(self, event: MethodCallEvent) -> tuple[Metric, ...] | None:
        if sum(a.keyword is None for a in event.node.args) > 2:
            return None  # tf_keras takes metrics third by position, Keras 3 takes loss_weights
        found: list[Metric] = []
        for key in ("metrics", "weighted_metrics"):
            value = dict(event.kwargs).get(key)
            if value is None:
                continue
            items = event.state.items(value)
            if items is None:
                return None
            found.extend(self._metric(v) for v in items)
        return tuple(found)

    @staticmethod
    def _metric(value: Value) -> Metric:
        if value.kind == "literal" and isinstance(value.lit, str):
            return Metric(value.lit, value.node)
        if value.kind in ("object", "ref") and value.canon is not None \
                and value.canon.name.startswith((*LOSS_MODULES, *METRIC_MODULES)):
            call = value.node if value.kind == "object" and isinstance(value.node, cst.Call) else None
            return Metric(value.canon.short, value.node, call)
        return Metric(None, value.node)

    # -- what a tensor is the output of ----------------------------------------------------

    def output(self, value: Value) -> Output | None:
        """The last layer, activation and units of a tensor value; None when not visible. A
        value that differs between branches is known only when every branch gives the same."""
        if value.kind == "union":
            found = [self.output(v) for v in value.items]
            if not found or any(o is None for o in found) or len({o.key() for o in found}) != 1:
                return None
            return found[0]
        return self._describe(value, 0)

    def squashes(self) -> Iterator[Output]:
        """Every softmax and sigmoid applied in the file (a layer's `activation=`, an
        `Activation`/`Softmax` layer, a Lambda, an op call), each once, with its units."""
        seen: set[int] = set()
        for layer in self.pic.layers:
            if layer.name not in WEIGHT_LAYERS or id(layer.node) in seen \
                    or self._weight_activation(layer) not in SQUASHES:
                continue
            described = self._weight_layer(layer)
            if described is not None:
                seen.add(id(layer.node))
                yield described
        for app in self.pic.applies:
            if app.layer.name in WEIGHT_LAYERS or id(app.layer.node) in seen:
                continue
            described = self._from_app(app, 0)
            if described is not None and described.activation in SQUASHES and described.layer is app.layer:
                seen.add(id(app.layer.node))
                yield described
        for event in self.pic.calls:
            if self._function_activation(event.canon.name) in SQUASHES and id(event.node) not in seen:
                described = self._describe(Value("tensor", node=event.node, canon=event.canon), 0)
                if described is not None and described.activation in SQUASHES:
                    seen.add(id(event.node))
                    yield described

    def _describe(self, value: Value, depth: int) -> Output | None:
        if depth > MAX_DEPTH or value.kind not in ("tensor", "const"):  # const: a tf op on eager values
            return None
        app = value.app
        if app is not None:
            if value.node is not app.node and value.node is not app.call:
                return None  # `layer(x)[0]`, an unpacked item: not the layer's whole output
            key = id(app)
            if key not in self._outputs:
                self._outputs[key] = None  # a cycle (a loop's join) stays unknown
                self._outputs[key] = self._from_app(app, depth)
            return self._outputs[key]
        if value.canon is not None and isinstance(value.node, cst.Call):
            return self._from_op(value, depth)
        return None

    def _from_app(self, app: Apply, depth: int) -> Output | None:
        layer = app.layer
        name = layer.name
        if name in WEIGHT_LAYERS:
            return self._weight_layer(layer)
        if name in WRAPPERS:
            inner = self._layer_at(layer.arg("layer", 0))
            if inner is None or inner.name not in WEIGHT_LAYERS:
                return None
            described = self._weight_layer(inner)
            if described is None:
                return None
            return Output(layer.node, layer, described.activation, described.activation_node, described.units,
                          described.units_layer, (layer,), _name(layer))
        activation = self._layer_activation(layer)
        if activation is None:
            return None
        before = self._describe(app.inputs[0], depth + 1) if len(app.inputs) == 1 else None
        return self._applied(activation, layer.node, layer, before)

    def _from_op(self, value: Value, depth: int) -> Output | None:
        activation = self._function_activation(value.canon.name)
        if activation is None:
            return None
        call = value.node
        events = self._call_events().get(id(call), [])
        scope = events[0].site.scope if events else None
        if activation in AXIS_ACTIVATIONS and not self._last_axis(call_arg(call, "axis", 1), scope):
            return None
        before = None
        if len(events) == 1 and events[0].args:  # inlined more than once: which input is not known
            before = self._describe(events[0].args[0], depth + 1)
        return self._applied(activation, call, None, before)

    def _applied(self, activation: str, node: cst.CSTNode, layer: LayerDef | None, before: Output | None):
        """The output of applying `activation` (by `layer`, or an op call `node`) to `before`."""
        step = layer if layer is not None else node
        if activation == "linear":  # the identity: the output is what came in
            if before is None:
                return None
            return Output(node, layer, before.activation, before.activation_node, before.units,
                          before.units_layer, (*before.chain, step), _name(layer))
        units = before.units if before is not None else None
        chain = (*before.chain, step) if before is not None else (step,)
        return Output(node, layer, activation, node, units, before.units_layer if before else None, chain,
                      _name(layer))

    def _weight_activation(self, layer: LayerDef) -> str | None:
        act_pos = WEIGHT_LAYERS[layer.name][2]
        given = layer.given("activation", act_pos)
        if given is None:
            return None  # **kwargs that may hold it
        return self._activation(layer.arg("activation", act_pos), layer) if given else "linear"

    def _weight_layer(self, layer: LayerDef) -> Output | None:
        units_key, units_pos, _ = WEIGHT_LAYERS[layer.name]
        if layer.given("activation", WEIGHT_LAYERS[layer.name][2]) is None:
            return None
        activation = self._weight_activation(layer)
        units = None
        if units_key is not None and (units_key == "units" or self._channels_last(layer)):
            value = self._constant(layer.arg(units_key, units_pos), layer.site.scope)
            units = value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
        return Output(layer.node, layer, activation, layer.node if activation else None, units, layer, (layer,),
                      _name(layer))

    def _channels_last(self, layer: LayerDef) -> bool:
        given = layer.given("data_format")
        if given is None:
            return False
        return not given or self._constant(layer.arg("data_format"), layer.site.scope) in ("channels_last", None)

    def _constant(self, expr: cst.BaseExpression | None, scope) -> object:
        """A literal, or a name bound once (in its scope or an enclosing one) to a literal. By
        single bindings, not reaching definitions: no parent index for files that need none."""
        return self.pic.flow.constant(expr, scope or self.pic.names.root)

    def _last_axis(self, expr: cst.BaseExpression | None, scope) -> bool:
        """Does an `axis=` argument (None: absent) name the last axis?"""
        if expr is None:
            return True
        value = self._constant(expr, scope)
        return value == -1 and not isinstance(value, bool)

    def _layer_activation(self, layer: LayerDef) -> str | None:
        """The activation an activation-only layer applies; None when it is not one, or unknown."""
        short = layer.name
        if short == "keras.layers.Activation":
            return self._activation(layer.arg("activation", 0), layer)
        if short == "keras.layers.Softmax":
            if layer.opaque:
                return None
            return "softmax" if self._last_axis(layer.arg("axis", 0), layer.site.scope) else None
        if short == "keras.layers.ReLU":
            plain = all(a.keyword is not None and a.keyword.value == "name" for a in layer.node.args)
            return "relu" if plain and not layer.opaque else None
        if short == "keras.layers.Lambda":
            return self._lambda_activation(layer)
        return None

    def _lambda_activation(self, layer: LayerDef) -> str | None:
        function = layer.arg("function", 0)
        if isinstance(function, cst.Lambda):
            body = function.body
            params = function.params.params
            if not isinstance(body, cst.Call) or len(params) != 1 or not body.args \
                    or not (isinstance(body.args[0].value, cst.Name)
                            and body.args[0].value.value == params[0].name.value):
                return None
            canon = self.pic.resolve(body.func, function)
            activation = self._function_activation(canon.name) if canon is not None else None
            if activation in AXIS_ACTIVATIONS and not self._last_axis(call_arg(body, "axis", 1), layer.site.scope):
                return None
            return activation
        if isinstance(function, (cst.Name, cst.Attribute)):
            canon = self.pic.resolve(function, layer.site.scope)
            return self._function_activation(canon.name) if canon is not None else None
        return None

    def _activation(self, expr: cst.BaseExpression | None, layer: LayerDef) -> str | None:
        """The activation an `activation=` argument names: a string (or same-file constant),
        None, or a function of `keras.activations`, `tf.nn`, `keras.ops`; None when not known."""
        if expr is None or (isinstance(expr, cst.Name) and expr.value == "None"):
            return "linear"
        value = self._constant(expr, layer.site.scope)
        if value is None:
            return "linear"
        if isinstance(value, str):
            return value if value in ACTIVATIONS else None
        if value is NOT_CONSTANT and isinstance(expr, (cst.Name, cst.Attribute)):
            canon = self.pic.resolve(expr, layer.site.scope)
            if canon is not None:
                return self._function_activation(canon.name)
        return None

    @staticmethod
    def _function_activation(name: str) -> str | None:
        if name in ACTIVATION_FUNCTIONS:
            return ACTIVATION_FUNCTIONS[name]
        for prefix in ACTIVATION_NAMESPACES:
            if name.startswith(prefix) and name[len(prefix):] in ACTIVATIONS:
                return name[len(prefix):]
        return None

    def _layer_at(self, expr: cst.BaseExpression | None) -> LayerDef | None:
        if not isinstance(expr, cst.Call):
            return None
        if self._layers is None:
            self._layers = {id(layer.node): layer for layer in self.pic.layers}
        return self._layers.get(id(expr))

    def _call_events(self) -> dict[int, list[CallEvent]]:
        if self._calls is None:
            self._calls = {}
            for event in self.pic.calls:
                self._calls.setdefault(id(event.node), []).append(event)
        return self._calls


# ------------------------------------------------------------------ helpers


def _arg(call: cst.Call, keyword: str, position: int | None) -> cst.Arg | None:
    """The argument (keyword or positional) that gives a parameter; None when absent."""
    index = 0
    for arg in call.args:
        if arg.keyword is not None:
            if arg.keyword.value == keyword:
                return arg
        elif not arg.star:
            if index == position:
                return arg
            index += 1
    return None


def _written_in(value: Value, arg: cst.Arg) -> bool:
    """Is the value the argument's own expression (not a variable bound elsewhere)?"""
    return value.node is arg.value


def _dotted(expr: cst.BaseExpression) -> str:
    if isinstance(expr, cst.Attribute):
        return f"{_dotted(expr.value)}.{expr.attr.value}"
    return expr.value if isinstance(expr, cst.Name) else "..."


def _name(layer: LayerDef | None) -> str | None:
    """The literal `name=` of a layer (what a loss dict is keyed by)."""
    return literal_string(layer.arg("name")) if layer is not None else None
