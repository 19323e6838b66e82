"""Shared by the confirm recipes of the training set-up rules (KC006, KC007, KC010, KC011).

Parent side (no TensorFlow): `head_job` turns a model output of the training view into a job:
the source of each step from the layer that sets the units to the output (layers constructed from
their own source, op calls by the function they call), which step applies the output's
activation, and the loss's source. Child side: `Head` rebuilds Input -> Dense(16, relu) -> those
steps, as the flagged code would, and `Head.logits()` the same network without its last
activation; `blobs()` makes Gaussian-blob data with one class per unit, like the measurements in
KERAS_FACTS_2 (n1_logits_mismatch.py, n8_loss_output_shape.py).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

from kerascheck.confirm.slice import Slicer
from kerascheck.confirm.target import keras_target
from kerascheck.rule import Context, LayerDef, Output, cst

SAMPLES = 300
HIDDEN = 16
STEPS = 6  # full-batch Adam steps for the training comparisons (eager: no tracing)
LEARNING_RATE = 0.05  # as in the KERAS_FACTS_2 N1/N8 measurements
POSITIONS = {"Conv1D": (8,), "Conv2D": (6, 6), "Conv3D": (4, 4, 4)}  # input positions for Conv heads
LOGITS_LOSS = {"categorical_crossentropy": "CategoricalCrossentropy",  # the loss of the network's logits
               "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
               "binary_crossentropy": "BinaryCrossentropy"}


# ------------------------------------------------------------------ parent side


def head_job(ctx: Context, output: Output, loss_node: cst.CSTNode | None = None, site: Any = None,
             **fields: Any) -> dict | str:
    """The job that rebuilds `output`'s steps (and the loss at `loss_node`, evaluated where the
    `compile` call at `site` runs)."""
    slicer = Slicer(ctx.picture, ctx.text, ctx)
    steps, act_step = [], None
    for i, step in enumerate(output.chain):
        if isinstance(step, LayerDef):
            steps.append({"layer": slicer.expr(step.node, step.site)})
            node = step.node
        else:
            steps.append({"op": slicer.expr(step.func, site)})
            node = step
        if node is output.activation_node:
            act_step = i
    if not steps:
        return "the output's layers are not visible"
    if output.activation == "linear":
        act_step = None
    loss = slicer.expr(loss_node, site) if loss_node is not None else None
    flavors = [step.canon.flavor for step in output.chain if isinstance(step, LayerDef)]
    return slicer.job(steps=steps, act_step=act_step, activation=output.activation, units=output.units,
                      loss=loss, **fields, **keras_target(ctx, flavors))


def pair_job(ctx: Context, comp, output: Output, loss) -> dict | str:
    """The job for one (compile, output, loss) pair of the training view."""
    return head_job(ctx, output, loss.node, comp.event.site, loss_name=loss.name, labels=loss.labels)


def correct_pairs(ctx: Context, losses: frozenset, flagged) -> Iterator[dict]:
    """Jobs for the right pairs beside the bad ones, the look-alikes of KC006 and KC011:
    softmax/sigmoid with `from_logits=False`, a linear output with `from_logits=True` (not
    one-unit categorical heads, KC007). `flagged`: the rule's (compile, output, loss) findings."""
    left_out = {(id(c.node), id(o.node)) for c, o, _ in flagged}
    for comp, output, loss in ctx.training.pairs():
        if loss.name not in losses or (id(comp.node), id(output.node)) in left_out \
                or (output.units == 1 and loss.labels != "binary"):
            continue
        squash = "sigmoid" if loss.labels == "binary" else "softmax"
        if (output.activation == squash and loss.from_logits is False) or \
                (output.activation == "linear" and loss.from_logits is True):
            made = pair_job(ctx, comp, output, loss)
            if isinstance(made, dict):
                yield made


# ------------------------------------------------------------------ child side


def _kind(layer: Any) -> str:
    inner = getattr(layer, "layer", None)  # TimeDistributed(Dense(...))
    if inner is not None and type(layer).__name__ == "TimeDistributed":
        return "TimeDistributed"
    return type(layer).__name__


class Head:
    """Input -> Dense(16, relu) -> the job's steps, built in the Keras library of its layers."""

    def __init__(self, job: dict, probe, ns: dict, logits: bool = False, producer: bool = True,
                 seed: int = 1) -> None:
        self.probe = probe
        probe.seed(seed)  # before the layers are made: Keras 3 draws their initializers' seeds then
        self.layers = [self._make(step, probe, ns) for step in job["steps"]]
        keras_layers = [layer for layer in self.layers if not isinstance(layer, _Op)]
        self.K = K = probe.keras_for(keras_layers[0]) if keras_layers else probe.keras
        kinds = [_kind(layer) for layer in keras_layers]
        positions: tuple[int, ...] = ()
        for kind in kinds:
            positions = POSITIONS.get(kind.replace("Transpose", "").replace("Separable", ""), positions)
            if kind == "TimeDistributed":
                positions = (4,)
        self.positions = positions
        self.features = 2 if producer else 4
        inp = K.Input((*positions, self.features))
        h = K.layers.Dense(HIDDEN, activation="relu")(inp) if producer else inp
        outs = []
        act = job.get("act_step")
        self.swapped = None
        for i, layer in enumerate(self.layers):
            if isinstance(layer, _Op):
                layer = K.layers.Lambda(layer.fn)
                self.layers[i] = layer
            if logits and i == act:
                target = getattr(layer, "layer", layer)
                if hasattr(target, "activation") and type(target).__name__ != "Lambda":
                    target.activation = K.activations.linear  # the same weights, without the activation
                    self.swapped = target
                else:
                    break  # a separate activation step: the logits are what comes in
            h = layer(h)
            outs.append(h)
        self.model = K.Model(inp, h)
        shape = tuple(self.model.output_shape)
        self.units = shape[-1]
        self.out_positions = shape[1:-1]
        if self.units is None:
            from kerascheck.confirm import CouldNotBuild

            raise CouldNotBuild(f"the output's last axis has no static size: {shape}")

    @staticmethod
    def _make(step: dict, probe, ns: dict):
        if "layer" in step:
            return probe.eval(step["layer"], ns)
        return _Op(probe.eval(step["op"], ns))

    def names(self) -> str:
        return " -> ".join(type(layer).__name__ for layer in self.layers)


class _Op:
    def __init__(self, fn) -> None:
        self.fn = lambda t: fn(t)


def classifier(job: dict, probe):
    """The flagged head on blobs, with its loss: (namespace, head, loss, x, labels, targets)."""
    ns = probe.namespace(job)
    head = Head(job, probe, ns)
    fn = loss_function(head.K, probe.eval(job["loss"], ns)) if job.get("loss") else None
    x, labels = blobs(probe.np, head)
    y = targets(probe.np, labels, head.units, job.get("labels"))
    return ns, head, fn, x, labels, y


def blobs(np, head: Head, seed: int = 0):
    """(x, labels): Gaussian blobs in 2-D around one centre per unit (two for one unit), per position."""
    rng = np.random.default_rng(seed)
    k = max(int(head.units), 2)
    angles = 2 * math.pi * np.arange(k) / k
    centers = (2.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)).astype("float32")
    labels = rng.integers(0, k, size=(SAMPLES, *head.positions))
    x = (centers[labels] + rng.normal(size=(*labels.shape, 2))).astype("float32")
    if tuple(head.out_positions) != tuple(head.positions):  # valid convolutions shrink the grid
        labels = rng.integers(0, k, size=(SAMPLES, *head.out_positions))
    return x, labels


def targets(np, labels, units: int, kind: str | None):
    """The targets a loss expects: one-hot ("categorical"), indices ("sparse"), or 0/1 per unit
    ("binary": class 0 vs the rest for one unit, one-hot otherwise)."""
    if kind == "sparse":
        return labels.astype("int32")
    if kind == "binary" and units == 1:
        return (labels == 0).astype("float32")[..., None]
    return np.eye(max(units, 2), dtype="float32")[labels][..., :units]


def loss_function(K, value):
    """A loss as `compile` would take it: a string is looked up like `compile` does."""
    if isinstance(value, str):
        found = K.losses.get(value)
        if found is None:
            from kerascheck.confirm import CouldNotBuild

            raise CouldNotBuild(f"{K.__name__} has no loss named {value!r}")
        return found
    return value


def logits_loss(K, name: str):
    """The cross-entropy `name` computed from logits: the correctly paired loss of a network's
    values before its last activation."""
    return getattr(K.losses, LOGITS_LOSS[name])(from_logits=True)


def mean_loss(tf, fn, y, p) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(tf.reduce_mean(fn(y, p)))


def train(tf, K, model, fn, x, y, steps: int = STEPS) -> float:
    """`steps` full-batch Adam steps, eagerly (no tracing); the loss after them. Adam is written out:
    Keras's optimizer costs several times the forward and backward pass on these tiny models."""
    xs, ys = tf.constant(x), tf.constant(y)
    variables = list(model.trainable_variables)
    first = [tf.zeros_like(tf.convert_to_tensor(v)) for v in variables]
    second = [tf.zeros_like(tf.convert_to_tensor(v)) for v in variables]
    beta1, beta2, eps = 0.9, 0.999, 1e-7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for step in range(1, steps + 1):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(fn(ys, model(xs, training=True)))
            grads = tape.gradient(loss, variables)
            scale = LEARNING_RATE * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
            for i, (var, grad) in enumerate(zip(variables, grads)):
                if grad is None:
                    continue
                first[i] = beta1 * first[i] + (1 - beta1) * grad
                second[i] = beta2 * second[i] + (1 - beta2) * tf.square(grad)
                var.assign(tf.convert_to_tensor(var) - scale * first[i] / (tf.sqrt(second[i]) + eps))
        return float(tf.reduce_mean(fn(ys, model(xs))))


def accuracy(np, p, labels, threshold: float = 0.5) -> float:
    p = np.asarray(p)
    if p.shape[-1] == 1:
        return float(np.mean((p[..., 0] > threshold) == (labels == 0)))
    return float(np.mean(p.argmax(-1) == labels))
