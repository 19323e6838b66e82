"""Input shapes from the code, for confirm recipes that build a layer, a chain or a class.

Parent side (TensorFlow-free), `plans(ctx, slicer, layer, app)`: where the input of a flagged layer
comes from, as JSON-able trees that the child builds symbolically:

    {"input": [kind, source], "where": "Input (line 19)"}   kind: shape | batch | dim
    {"layer": source, "args": [tree], "where": "Reshape (line 20)"}   a Keras layer applied
    {"list": [tree, ...]}                                   a list input (Add, Concatenate)
    {"default": true}                                       unknown: the consumer's default shape

in this order: the layer's own `input_shape=` / `batch_input_shape=` / `input_dim=`; its producers
back to an `Input(shape=...)` (or a first layer's `input_shape=`, or an array made by `np.zeros`
/ `tf.ones` & co. with a literal shape), each layer between them rebuilt from its own constructor
source, so Dense/Conv/Reshape/Flatten/pooling outputs come out right; the `build(shape)` calls on
the object. Only Keras layers are rebuilt on the way up: a custom class ends the walk there (its
code is not the flagged code, and does not run), and its output shape counts as unknown.

Child side, `realise(plans, probe, ns, consumer)`: the (shape, where) candidates, most specific
first, then the consumer's per-layer default (`default_shape`) as the fallback.
"""

from __future__ import annotations

import libcst as cst

from kerascheck.confirm.target import LEGACY_FLAVORS

MAX_LAYERS = 16  # Keras layers rebuilt upstream of one flagged layer
ARRAY_MAKERS = frozenset({"numpy.zeros", "numpy.ones", "numpy.empty", "numpy.full", "tensorflow.zeros",
                          "tensorflow.ones", "tensorflow.fill", "tensorflow.random.normal",
                          "tensorflow.random.uniform", "keras.ops.zeros", "keras.ops.ones"})
VARIABLE = 8  # a dimension the code leaves open (`Input((None, 16))`)
ARRAY_DIMS = frozenset({"numpy.random.rand", "numpy.random.randn"})  # rand(4, 16): one argument per dimension


# ------------------------------------------------------------------ parent side


def _line(slicer, node: cst.CSTNode) -> int:
    return slicer._line(node)


def _family(flavor: str | None) -> bool | None:
    """True for a Keras 2 library (tf_keras), False for Keras 3, None when not known."""
    return None if flavor in (None, "mixed", "local") else flavor in LEGACY_FLAVORS


def own_shape(ctx, slicer, layer) -> dict | None:
    """The input shape a layer's own arguments state."""
    from kerascheck.rule import call_arg

    for keyword, kind in (("batch_input_shape", "batch"), ("batch_shape", "batch"), ("input_shape", "shape"),
                          ("input_dim", "dim")):
        value = layer.arg(keyword) if hasattr(layer, "arg") else call_arg(layer, keyword, None)
        if value is None or (keyword == "input_dim" and layer.short == "Embedding"):
            continue
        return {"input": [kind, slicer.expr(value, layer.site)], "where": f"{keyword}= (line {_line(slicer, value)})"}
    return None


def _input_tensor(slicer, value) -> dict | None:
    from kerascheck.rule import call_arg

    node = value.node
    if not isinstance(node, cst.Call):
        return None
    canon = value.canon.name if value.canon is not None else ""
    where = f"{'Input' if canon == 'keras.Input' else slicer.source(node.func)} (line {_line(slicer, node)})"
    if canon == "keras.Input":
        for keyword, kind, position in (("batch_shape", "batch", None), ("shape", "shape", 0)):
            found = call_arg(node, keyword, position)
            if found is not None:
                return {"input": [kind, slicer.expr(found)], "where": where}
        return None
    if canon in ARRAY_MAKERS:
        found = call_arg(node, "shape", 0)
        if found is None and canon.startswith("numpy.random"):
            found = call_arg(node, "size", None)
        if found is not None:
            return {"input": ["batch", slicer.expr(found)], "where": where}
    if canon in ARRAY_DIMS and node.args and not any(a.keyword or a.star for a in node.args):
        dims = ", ".join(slicer.expr(a.value) for a in node.args)
        return {"input": ["batch", f"({dims},)"], "where": where}
    return None


def value_plan(ctx, slicer, value, budget: list) -> dict | None:
    """How to make `value` (an abstract value of the picture) symbolically, or None. `budget`:
    [layers left to rebuild, the Keras family of the layers (True: Keras 2, False: Keras 3, None)]."""
    if value is None:
        return None
    for alt in value.alternatives():
        if alt.kind == "tensor" and alt.app is None:
            got = _input_tensor(slicer, alt)
        elif alt.kind == "const" and alt.canon is not None:
            got = _input_tensor(slicer, alt)
        elif alt.app is not None:
            got = apply_plan(ctx, slicer, alt.app, budget)
        elif alt.kind == "unknown" and isinstance(alt.node, cst.Param):
            kc = _call_input_of(ctx, alt.node)  # `x` of `call(self, x)`: what the class is given
            found = class_plans(ctx, slicer, kc, budget) if kc is not None else []
            got = found[0] if found else None
        elif alt.kind == "seq" and alt.items and len(alt.items) <= 8:
            items = [value_plan(ctx, slicer, item, budget) for item in alt.items]
            got = {"list": items} if all(items) else None
        else:
            got = None
        if got is not None:
            return got
    return None


_DEFS: list[tuple[cst.Module, frozenset[str]]] = []


def _user_defs(module: cst.Module) -> frozenset[str]:
    """Names of every function and class the file defines (at any depth), once per module."""
    from kerascheck.names import walk

    for known, names in _DEFS:
        if known is module:
            return names
    names = frozenset(n.name.value for n in walk(module) if isinstance(n, (cst.FunctionDef, cst.ClassDef)))
    _DEFS[:] = [(module, names), *_DEFS[:3]]
    return names


def apply_plan(ctx, slicer, app, budget: list) -> dict | None:
    """How to make the output of an application of a Keras layer symbolically, or None. A layer
    whose constructor calls the file's own functions or classes is not rebuilt: that code is not
    the flagged code."""
    from kerascheck.confirm.slice import free_names

    layer = app.layer
    if layer.canon.flavor in (None, "mixed", "local") or layer.name.startswith("<local>") or layer.opaque:
        return None
    if budget[0] <= 0 or free_names(slicer.source(layer.node)) & _user_defs(ctx.picture.module):
        return None
    legacy = layer.canon.flavor in LEGACY_FLAVORS
    if budget[1] is None:
        budget[1] = legacy
    elif budget[1] != legacy:  # a tf_keras layer feeding a Keras 3 one (or back): not rebuilt together
        return None
    budget[0] -= 1
    base = own_shape(ctx, slicer, layer)
    if base is None:
        base = value_plan(ctx, slicer, app.inputs[0], budget) if app.inputs else None
    return {"layer": slicer.expr(layer.node, layer.site), "args": [base or {"default": True}],
            "where": f"{layer.short} (line {_line(slicer, layer.node)})"}


def _call_input_of(ctx, param: cst.Param):
    """The Keras class whose `call()` takes `param` as its first input, else None."""
    function = ctx.enclosing_function(param)
    if function is None or function.name.value != "call":
        return None
    positional = [*function.params.posonly_params, *function.params.params]
    if len(positional) < 2 or positional[1] is not param:
        return None
    owner = ctx.parent(ctx.parent(function))
    return ctx.picture.class_of(owner) if isinstance(owner, cst.ClassDef) else None


def class_plans(ctx, slicer, kc, budget: list | None = None) -> list[dict]:
    """Input-shape plans for the file's Keras class `kc`: what its instances are applied to, their
    `build(shape)` calls and `input_shape=` arguments."""
    budget = budget if budget is not None else [MAX_LAYERS, _family(kc.bases[0].flavor if kc.bases else None)]
    if budget[0] <= 0:
        return []
    budget[0] -= 1
    slicer.shaping, before = True, slicer.shaping
    try:
        return _class_plans(ctx, slicer, kc, budget)
    finally:
        slicer.shaping = before


def instances(ctx, kc) -> list:
    """The constructions of the file's class `kc` that the picture saw (applied, or a method called on them)."""
    name = f"<local>.{kc.name}"
    found = {id(a.layer): a.layer for a in ctx.picture.applies if a.layer.canon.name == name}
    found.update({id(e.receiver.layer): e.receiver.layer for e in ctx.picture.methods
                  if e.receiver.layer is not None and e.receiver.layer.canon.name == name})
    return list(found.values())


def _class_plans(ctx, slicer, kc, budget: list) -> list[dict]:
    name = f"<local>.{kc.name}"
    out: list[dict] = []
    for layer in instances(ctx, kc):
        for plan in (own_shape(ctx, slicer, layer), *_build_calls(ctx, slicer, layer)):
            if plan is not None and plan not in out:
                out.append(plan)
    for a in ctx.picture.applies:
        if a.layer.canon.name == name and a.inputs:
            got = value_plan(ctx, slicer, a.inputs[0], budget)
            if got is not None and got not in out:
                out.append(got)
    return out


def _build_calls(ctx, slicer, layer) -> list[dict]:
    """`obj.build((None, 784))` on the layer or model object itself."""
    out = []
    for event in ctx.picture.methods:
        if event.name != "build" or event.receiver.layer is not layer or not event.node.args:
            continue
        arg = event.node.args[0]
        if arg.star or (arg.keyword is not None and arg.keyword.value != "input_shape"):
            continue
        out.append({"input": ["batch", slicer.expr(arg.value, event.site)],
                    "where": f"build() (line {_line(slicer, event.node)})"})
    return out


def plans(ctx, slicer, layer, app=None) -> list[dict]:
    """Input-shape plans for `layer` (at `app`, else at each of its applications), most specific first.
    Values synthesised on the way are the shape's, not the flagged code's (`synthesised_shape`)."""
    slicer.shaping, before = True, slicer.shaping
    try:
        return _plans(ctx, slicer, layer, app)
    finally:
        slicer.shaping = before


def _plans(ctx, slicer, layer, app) -> list[dict]:
    out: list[dict] = []
    own = own_shape(ctx, slicer, layer)
    if own is not None:
        out.append(own)
    apps = [app] if app is not None else [a for a in ctx.picture.applies if a.layer is layer]
    for a in apps[:4]:
        if a.inputs:
            got = value_plan(ctx, slicer, a.inputs[0], [MAX_LAYERS, _family(layer.canon.flavor)])
            if got is not None and got not in out:
                out.append(got)
    out.extend(p for p in _build_calls(ctx, slicer, layer) if p not in out)
    return out


# ------------------------------------------------------------------ child side


def default_shape(layer) -> tuple:
    """Input shape when the code states none: a small one per layer type.

    Dense, normalization, PReLU, custom layers: (None, 8); Conv/Separable/Depthwise/Locally-
    connected 1D (None, 16, 3), 2D (None, 8, 8, 3), 3D (None, 8, 8, 8, 3); SimpleRNN/LSTM/GRU
    (None, 5, 4) and their cells (None, 4); ConvLSTM1D/2D/3D (None, 5, 8, 3) / (None, 5, 8, 8, 3)
    / (None, 5, 4, 4, 4, 3); Embedding (None, 5) (its table is (input_dim, output_dim) from its
    own arguments); MultiHeadAttention (None, 4, 8) as query and value; GroupNormalization
    (None, 4, groups) so the channels divide into its groups; EinsumDense rank from its equation.
    """
    name = type(layer).__name__
    if name.startswith("ConvLSTM"):
        return {"1": (None, 5, 8, 3), "2": (None, 5, 8, 8, 3), "3": (None, 5, 4, 4, 4, 3)}.get(name[8:9], (None, 5, 8, 8, 3))
    if name.endswith("Cell"):
        return (None, 4)
    if hasattr(layer, "cell") or name in ("SimpleRNN", "LSTM", "GRU"):
        return (None, 5, 4)
    if name == "Embedding":
        return (None, 5)
    if name == "MultiHeadAttention":
        return (None, 4, 8)
    if name == "GroupNormalization":
        groups = getattr(layer, "groups", 8)
        return (None, 4, groups if isinstance(groups, int) and groups > 0 else 8)
    if name == "EinsumDense":
        first = str(getattr(layer, "equation", "ab")).split(",")[0]
        rank = sum(c.isalpha() for c in first) + (1 if "..." in first else 0)
        return (None, *([8] * max(rank - 1, 1)))
    for n, shape in (("1D", (None, 16, 3)), ("2D", (None, 8, 8, 3)), ("3D", (None, 8, 8, 8, 3))):
        if n in name:
            return shape
    return (None, 8)


def eval_shape(kind: str, source: str, probe, ns: dict) -> tuple:
    """A shape the code states, with the batch dimension first (None when not given)."""
    value = probe.eval(source, ns)
    if kind == "dim":
        return (None, int(value))
    if hasattr(value, "as_list"):  # a TensorShape
        value = value.as_list()
    dims = (value,) if isinstance(value, int) else tuple(value)
    dims = tuple(None if d is None else int(d) for d in dims)
    return dims if kind == "batch" else (None, *dims)


def _input(K, shape: tuple, consumer):
    dtype = "int32" if type(consumer).__name__ == "Embedding" else None
    batch = shape[0] if shape and isinstance(shape[0], int) else None
    kwargs = {"dtype": dtype} if dtype else {}
    return K.Input(shape=tuple(shape[1:]), batch_size=batch, **kwargs)


def _symbolic(tree: dict, probe, ns: dict, consumer, fresh: list):
    """The KerasTensor(s) a plan makes; `consumer` is the layer that takes them (its library,
    its default shape)."""
    if "list" in tree:
        return [_symbolic(t, probe, ns, consumer, fresh) for t in tree["list"]]
    K = probe.keras_for(consumer)
    if "input" in tree:
        return _input(K, eval_shape(*tree["input"], probe, ns), consumer)
    if "default" in tree:
        return _input(K, default_shape(consumer), consumer)
    layer = probe.eval(tree["layer"], ns)
    fresh.append(layer)
    inputs = _symbolic(tree["args"][0], probe, ns, layer, fresh)
    return layer(inputs)


def describe(tree: dict) -> str:
    """`Input (line 19) -> Reshape (line 20)`: the first path of a plan, from its root."""
    if "list" in tree:
        return describe(tree["list"][0]) if tree["list"] else "a list"
    if "input" in tree:
        return tree["where"]
    if "default" in tree:
        return "a default input"
    return f"{describe(tree['args'][0])} -> {tree['where']}"


def realise(plans: list[dict], probe, ns: dict, consumer) -> list[tuple[tuple, str]]:
    """(input shape, where it came from) for each plan that builds, then the consumer's default."""
    from kerascheck.confirm.probe import fatal

    out: list[tuple[tuple, str]] = []
    for tree in plans or ():
        try:
            made = _symbolic(tree, probe, ns, consumer, [])
            if isinstance(made, (list, tuple)):
                continue  # a list input: the recipes feed one tensor
            shape = tuple(None if d is None else int(d) for d in made.shape)
        except Exception as exc:  # noqa: BLE001 - a shape known only at run time: the next plan
            fatal(exc)
            continue
        if len(shape) < 2:
            continue
        shape = (shape[0], *(VARIABLE if d is None else d for d in shape[1:]))  # (None, None, 16): length 8
        if all(s != shape for s, _ in out):
            out.append((shape, "from " + describe(tree)))
    default = default_shape(consumer)
    if not any(s == default for s, _ in out):
        out.append((default, "default for " + type(consumer).__name__))
    return out
