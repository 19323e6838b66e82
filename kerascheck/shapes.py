"""Static tensor shapes, read off the picture's layer applications.

Computed lazily, on the first question a rule asks (`ctx.shapes`), from the applications the
picture already recorded: no second pass over the tree. A shape is a tuple with the batch
dimension first, each dimension an int or None (not known: the batch, a variable length, or a
value the code does not give as a literal); a shape that is not known at all is None.

Where shapes come from:
- `keras.Input(shape=..., batch_size=..., batch_shape=...)` and `InputLayer(...)`;
- the first layer of a `Sequential` model: `input_shape=`, `input_dim=`, `batch_input_shape=`
  (with `batch_size=`), `input_length=` (Embedding, recurrent layers);
- the layers' own arguments: literals, same-file constants (`ctx.constant`), and parameters of
  inlined helpers as their call sites (or defaults) give them.

What they go through: Dense, Conv1D/2D/3D, SeparableConv, DepthwiseConv, Conv*Transpose
(kernel, strides, padding, dilation, output_padding, data_format), pooling and global pooling,
Flatten, Reshape, Permute, RepeatVector, UpSampling, ZeroPadding, Cropping, Concatenate,
Add/Subtract/Multiply/Average/Maximum/Minimum (broadcast), Embedding, LSTM/GRU/SimpleRNN
(return_sequences), Bidirectional, TimeDistributed, and the layers that keep the shape
(Dropout, normalization, activations, noise). Anything else stops propagation: its output is
None. A layer made inside a loop the picture did not unroll exactly (`for _ in range(n)`)
keeps the rank it would give, with no dimension claimed.

A conv, pooling or cropping layer whose output size would be zero or negative (Keras raises at
build) gets that size in its output shape, so a rule can show it; its consumers see an unknown
input.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import libcst as cst

from kerascheck.flow import NOT_CONSTANT, literal_value
from kerascheck.names import walk
from kerascheck.picture import Apply, LayerDef, Picture, Site, Value

Shape = tuple  # tuple[int | None, ...], batch dimension first
MAX_WALK = 8  # layers walked back from an application to the Input that feeds it

__all__ = ["INPUT_RANK", "Shape", "Shapes", "conv_length", "pool_length", "python_value", "spatial_axes"]


def _names(*names: str) -> frozenset[str]:
    return frozenset(names)


# Layers whose output shape is their input shape.
IDENTITY = _names(
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout", "GaussianNoise",
    "AlphaDropout", "BatchNormalization", "SyncBatchNormalization", "LayerNormalization", "GroupNormalization",
    "UnitNormalization", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax",
    "ActivityRegularization", "Masking", "Identity",
)
# name -> (spatial rank, kind); kind: conv | transpose | depthwise | separable
CONVS: dict[str, tuple[int, str]] = {
    "Conv1D": (1, "conv"), "Conv2D": (2, "conv"), "Conv3D": (3, "conv"),
    "Convolution1D": (1, "conv"), "Convolution2D": (2, "conv"), "Convolution3D": (3, "conv"),
    "Conv1DTranspose": (1, "transpose"), "Conv2DTranspose": (2, "transpose"), "Conv3DTranspose": (3, "transpose"),
    "Convolution1DTranspose": (1, "transpose"), "Convolution2DTranspose": (2, "transpose"),
    "Convolution3DTranspose": (3, "transpose"), "Deconvolution2D": (2, "transpose"),
    "Deconvolution3D": (3, "transpose"),
    "DepthwiseConv1D": (1, "depthwise"), "DepthwiseConv2D": (2, "depthwise"),
    "SeparableConv1D": (1, "separable"), "SeparableConv2D": (2, "separable"),
    "SeparableConvolution1D": (1, "separable"), "SeparableConvolution2D": (2, "separable"),
}
POOLS: dict[str, int] = {}
GLOBAL_POOLS: dict[str, int] = {}
for _n in (1, 2, 3):
    for _kind in ("Max", "Average", "Avg"):
        for _word in ("Pooling", "Pool"):
            POOLS[f"{_kind}{_word}{_n}D"] = _n
            GLOBAL_POOLS[f"Global{_kind}{_word}{_n}D"] = _n
UPSAMPLING = {"UpSampling1D": 1, "UpSampling2D": 2, "UpSampling3D": 3}
ZERO_PADDING = {"ZeroPadding1D": 1, "ZeroPadding2D": 2, "ZeroPadding3D": 3}
CROPPING = {"Cropping1D": 1, "Cropping2D": 2, "Cropping3D": 3}
RECURRENT = _names("LSTM", "GRU", "SimpleRNN", "CuDNNLSTM", "CuDNNGRU")
MERGE = _names("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
# Arguments of Keras 1 signatures: where they appear, positions meant something else.
KERAS1 = _names("border_mode", "subsample", "nb_filter", "nb_row", "nb_col", "dim_ordering", "subsample_length",
                "filter_length", "pool_length", "init", "W_regularizer")

# The rank (without the batch dimension) a layer's input must have.
INPUT_RANK: dict[str, int] = {
    **{name: n + 1 for name, (n, _) in CONVS.items()},
    **{name: n + 1 for name, n in POOLS.items()},
    **{name: n + 1 for name, n in GLOBAL_POOLS.items()},
    **{name: n + 1 for name, n in UPSAMPLING.items()},
    **{name: n + 1 for name, n in ZERO_PADDING.items()},
    **{name: n + 1 for name, n in CROPPING.items()},
    **{name: 2 for name in RECURRENT},
    "ConvLSTM1D": 3, "ConvLSTM2D": 4, "ConvLSTM3D": 5, "RepeatVector": 1,
}


def spatial_axes(rank: int, channels_first: bool) -> range:
    """The spatial axes of a shape of `rank` (batch included)."""
    return range(2, rank) if channels_first else range(1, rank - 1)


def conv_length(length: int | None, kernel: int, stride: int, padding: str, dilation: int) -> int | None:
    """Keras's conv output length (may be <= 0: Keras raises then)."""
    if length is None:
        return None
    if padding == "valid":
        return (length - dilation * (kernel - 1) - 1) // stride + 1
    return (length - 1) // stride + 1  # same, causal


def pool_length(length: int | None, pool: int, stride: int, padding: str) -> int | None:
    if length is None:
        return None
    if padding == "valid":
        return (length - pool) // stride + 1
    return (length - 1) // stride + 1


def _transpose_length(length: int | None, kernel: int, stride: int, padding: str, dilation: int,
                      output_padding: int | None) -> int | None:
    if length is None:
        return None
    kernel = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(kernel, stride) - kernel if output_padding is None else output_padding
        return (length - 1) * stride + kernel + extra
    if output_padding is None:
        return length * stride
    return (length - 1) * stride + kernel % 2 + output_padding


def merge(shapes: list[Shape | None]) -> Shape | None:
    """What a value is when it is one of `shapes` (branches): the dimensions they agree on."""
    if not shapes or any(s is None for s in shapes):
        return None
    first = shapes[0]
    if any(len(s) != len(first) for s in shapes):
        return None
    return tuple(d if all(s[i] == d for s in shapes) else None for i, d in enumerate(first))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ints(value: Any, n: int, low: int = 1) -> tuple[int, ...] | None:
    """An int or a tuple/list of n ints (each >= low), as a tuple of n ints."""
    if _int(value) is not None:
        return (value,) * n if value >= low else None
    if isinstance(value, (tuple, list)) and len(value) == n and all(_int(v) is not None and v >= low for v in value):
        return tuple(value)
    return None


def _pairs(value: Any, n: int) -> tuple[tuple[int, int], ...] | None:
    """Padding/cropping: an int, n ints (symmetric) or n pairs, as n (before, after) pairs."""
    if n == 1:
        if _int(value) is not None and value >= 0:
            return ((value, value),)
        if isinstance(value, (tuple, list)) and len(value) == 2 and all(_int(v) is not None and v >= 0 for v in value):
            return (tuple(value),)
        return None
    if _int(value) is not None and value >= 0:
        return ((value, value),) * n
    if not isinstance(value, (tuple, list)) or len(value) != n:
        return None
    out = []
    for item in value:
        if _int(item) is not None and item >= 0:
            out.append((item, item))
        elif isinstance(item, (tuple, list)) and len(item) == 2 and all(_int(v) is not None and v >= 0 for v in item):
            out.append(tuple(item))
        else:
            return None
    return tuple(out)


def _dims(value: Any) -> tuple[int | None, ...] | None:
    """A literal shape: a tuple/list of positive ints and None."""
    if isinstance(value, (tuple, list)) and all(v is None or (_int(v) is not None and v > 0) for v in value):
        return tuple(value)
    return None


def python_value(value: Value | None) -> Any:
    """The Python value of an abstract literal or a sequence of them, else NOT_CONSTANT."""
    if value is None:
        return NOT_CONSTANT
    if value.kind == "literal":
        return value.lit
    if value.kind == "seq" and value.oid is not None and isinstance(value.node, (cst.Tuple, cst.List)):
        items = [python_value(v) for v in value.items]
        if len(items) != len(value.node.elements) or any(i is NOT_CONSTANT for i in items):
            return NOT_CONSTANT
        return tuple(items) if isinstance(value.node, cst.Tuple) else items
    return NOT_CONSTANT


def _rebound(expr: cst.BaseExpression, scope) -> bool:
    """Does `expr` read a name its scope binds more than once, only by plain assignments?"""
    for node in walk(expr):
        if isinstance(node, cst.Name):
            bindings = scope.bindings.get(node.value, ())
            if len(bindings) > 1 and all(b.kind in ("assign", "none") for b in bindings):
                return True
    return False


def _parameters_only(expr: cst.BaseExpression, site: Site) -> bool:
    """Is every name in `expr` a parameter of the helper the code was inlined in, never rebound
    there (so the interpreter's value for it is what the call site gave)?"""
    fn = site.function
    if not isinstance(fn, cst.FunctionDef) or site.caller is None:
        return False
    scope = site.scope
    params = {p.name.value for p in (*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params)}
    found = False
    for node in walk(expr):
        if isinstance(node, cst.Name):
            if node.value in ("True", "False", "None"):
                continue
            if node.value not in params or scope is None or len(scope.bindings.get(node.value, ())) != 1:
                return False
            found = True
        elif isinstance(node, (cst.Call, cst.Attribute, cst.Subscript, cst.Lambda)):
            return False
    return found


class Shapes:
    """The static shapes of one file's layer applications (see the module docstring)."""

    def __init__(self, pic: Picture) -> None:
        self.pic = pic
        self._out: dict[int, Shape | None] = {}
        self._busy: set[int] = set()
        self._consumers: dict[int, list[Apply]] | None = None
        self._format: str | None | bool = False  # False: not computed yet

    # -- questions ---------------------------------------------------------------------------

    def output(self, app: Apply) -> Shape | None:
        """The shape `app` produces (a size <= 0 where the layer collapses), or None."""
        key = id(app)
        if key in self._out:
            return self._out[key]
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            shape = self._output(app)
        finally:
            self._busy.discard(key)
        self._out[key] = shape
        return shape

    def input(self, app: Apply) -> Shape | None:
        """The shape of the (first) input `app` consumes, or None."""
        if not app.inputs:
            return None
        if app.first:
            return self.declared(app.layer)
        return self.of(app.inputs[0])

    def of(self, value: Value | None) -> Shape | None:
        """The shape of an abstract value: a tensor a layer or `keras.Input` made, or None."""
        if value is None:
            return None
        if value.kind == "union":
            return merge([self.of(v) for v in value.items])
        if value.kind != "tensor":
            return None
        if value.app is not None:
            if value.node is not value.app.node and value.node is not value.app.call:
                return None  # an item or slice of a layer's output (`h, c = rnn(x)`, `x[:, 0]`)
            shape = self.output(value.app)
            if shape is not None and any(d is not None and d <= 0 for d in shape):
                return None  # Keras raised at the layer that collapsed
            return shape
        if value.layer is not None and value.node is value.layer.node:
            return self.source(value.layer)
        return None

    def consumers(self, app: Apply) -> list[Apply]:
        """The applications that consume what `app` produces."""
        if self._consumers is None:
            found: dict[int, list[Apply]] = {}
            for other in self.pic.applies:
                for producer in self.pic.producers(other):
                    found.setdefault(id(producer), []).append(other)
            self._consumers = found
        return self._consumers.get(id(app), [])

    def arg(self, layer: LayerDef, keyword: str, position: int | None = None, default: Any = NOT_CONSTANT) -> Any:
        """The Python value of a layer argument: `default` when it is not given, NOT_CONSTANT when
        it is given but not known (a literal, a same-file constant, or a helper's parameter as
        its call site gave it)."""
        expr = layer.arg(keyword, position)
        if expr is None:
            return default if layer.given(keyword, position) is False else NOT_CONSTANT
        return self.literal(expr, layer.value(keyword, position), layer.site)

    def literal(self, expr: cst.BaseExpression, value: Value | None, site: Site) -> Any:
        """The Python value of an argument expression: a literal or same-file constant
        (`ctx.constant`), else, when every name in it is a parameter of the inlined helper it is
        in (never rebound there), the interpreter's `value` for it (what the call site gave);
        NOT_CONSTANT otherwise."""
        flow = self.pic.flow
        literal = literal_value(expr)
        if literal is not NOT_CONSTANT:
            return literal
        # Names by their scope's single binding: no parent links needed. The interpreter's value
        # there must agree (a comprehension's or loop's own variable may shadow a constant).
        scope = site.scope or self.pic.names.root
        known = flow.constant(expr, scope)
        if known is not NOT_CONSTANT:
            return known if python_value(value) == known else NOT_CONSTANT
        if _parameters_only(expr, site):
            return python_value(value)
        if site.function is None and _rebound(expr, scope):
            # Module-level code (a notebook re-running a cell): the assignment that reaches the
            # name, which needs parent links (built once per file, so only when it can help).
            return flow.constant(expr)
        return NOT_CONSTANT

    def channels_first(self, layer: LayerDef) -> bool | None:
        """Does the layer read channels first? None when not known."""
        fmt = self.arg(layer, "data_format", None, None)
        if fmt is None:
            fmt = self.default_format()
        if fmt == "channels_last":
            return False
        if fmt == "channels_first":
            return True
        return None

    def default_format(self) -> str | None:
        """`channels_last`, unless the file sets or reads the image data format (then not known:
        code that asks `image_data_format()` expects either)."""
        if self._format is False:
            self._format = "channels_last"
            for event in self.pic.calls:
                if event.canon.flavor is not None and event.canon.short in (
                        "set_image_data_format", "set_image_dim_ordering", "image_data_format", "image_dim_ordering"):
                    self._format = None
        return self._format  # type: ignore[return-value]

    def declared(self, layer: LayerDef) -> Shape | None:
        """The input shape the first layer of a Sequential model declares (`input_shape=`,
        `input_dim=`, `batch_input_shape=`, `input_length=`), or None."""
        if layer.opaque:
            return None
        given = {k for k in ("input_shape", "input_dim", "batch_input_shape") if layer.given(k)}
        short = layer.short
        # `input_length=` gives the input shape in legacy Keras only: Keras 3 ignores it (Embedding)
        # or refuses it (recurrent layers).
        if not given and short in ("Embedding", *RECURRENT) and layer.given("input_length") \
                and layer.canon.flavor == "tf_keras":
            if short == "Embedding":
                length = self.arg(layer, "input_length")
                return (None, length) if length is None or (_int(length) or 0) > 0 else None
            given = {"input_length"}
        if len(given) != 1:
            return None
        key = given.pop()
        if key == "batch_input_shape":
            return _dims_with_batch(self.arg(layer, key))
        batch = self.arg(layer, "batch_size", None, None)
        if batch is not None and (_int(batch) is None or batch <= 0):
            return None
        if key == "input_dim":
            dim = self.arg(layer, key)
            if short in RECURRENT:  # legacy Keras: (input_length, input_dim); Keras 3: (input_dim,)
                if layer.canon.flavor != "tf_keras":
                    return None
                length = self.arg(layer, "input_length", None, None)
                dims = _dims((length, dim))
                return (batch, *dims) if dims is not None else None
            return (batch, dim) if _int(dim) is not None and dim > 0 else None
        if key == "input_length":
            dims = _dims((self.arg(layer, "input_length"), None))
            return (batch, *dims) if dims is not None else None
        dims = _dims(self.arg(layer, key))
        return (batch, *dims) if dims is not None else None

    def source(self, layer: LayerDef) -> Shape | None:
        """The shape of the tensor `keras.Input(...)` / `InputLayer(...)` makes, or None."""
        if layer.opaque or layer.given("tensor") or layer.given("input_tensor"):
            return None
        if layer.name == "keras.InputLayer":
            if layer.given("input_shape") or layer.given("batch_input_shape"):
                return self.declared(layer)
        batch_shape = self.arg(layer, "batch_shape", None, None)
        if batch_shape is not None:
            return _dims_with_batch(batch_shape) if not layer.given("shape", 0) else None
        dims = _dims(self.arg(layer, "shape", 0))
        batch = self.arg(layer, "batch_size", 1, None)
        if dims is None or (batch is not None and (_int(batch) is None or batch <= 0)):
            return None
        return (batch, *dims)

    def input_source(self, app: Apply) -> LayerDef | None:
        """The `keras.Input` / `InputLayer` whose tensor reaches `app` directly or through layers
        that keep the shape (Dropout, normalization, activations), or None."""
        value = app.inputs[0] if app.inputs and not app.first else None
        for _ in range(MAX_WALK):
            if value is None or value.kind != "tensor":
                return None
            if value.app is None:
                source = value.layer
                return source if source is not None and value.node is source.node else None
            producer = value.app
            if producer.layer.short not in IDENTITY or producer.layer.canon.flavor is None or producer.first \
                    or not producer.inputs:
                return None
            value = producer.inputs[0]
        return None

    def collapsed(self, app: Apply) -> bool:
        """Does the layer's output have a spatial size <= 0 while its input sizes were positive?"""
        shape = self.output(app)
        if shape is None or not any(d is not None and d <= 0 for d in shape):
            return False
        before = self.input(app)
        return before is not None and all(d is None or d > 0 for d in before)

    def trail(self, app: Apply) -> list[tuple[Apply | None, Shape]]:
        """The shapes along the chain of first inputs that ends at `app`, from the source:
        (None, source shape) first, then (application, its output shape)."""
        chain: list[tuple[Apply | None, Shape]] = []
        current: Apply | None = app
        seen: set[int] = set()
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            shape = self.output(current)
            if shape is None:
                break
            chain.append((current, shape))
            if current.first:
                declared = self.declared(current.layer)
                if declared is not None:
                    chain.append((None, declared))
                break
            value = current.inputs[0] if current.inputs else None
            while value is not None and value.kind == "union" and len(value.items) == 1:
                value = value.items[0]
            if value is None or value.kind != "tensor":
                break
            if value.app is None:
                shape = self.of(value)
                if shape is not None:
                    chain.append((None, shape))
                break
            current = value.app
        chain.reverse()
        return chain

    # -- propagation ---------------------------------------------------------------------------

    def _output(self, app: Apply) -> Shape | None:
        layer = app.layer
        if layer.canon.flavor is None or not layer.name.startswith("keras.layers.") or layer.opaque:
            return None
        if any(layer.given(k) for k in KERAS1):
            return None
        short = layer.short
        if short in ("Concatenate", *MERGE):
            shapes = self._list_input(app)
            if shapes is None:
                return None
            out = _concatenate(shapes, self.arg(layer, "axis", 0, -1)) if short == "Concatenate" else _broadcast(shapes)
        else:
            out = self._apply(layer, self.input(app))
        if out is not None and app.looped:
            return (None,) * len(out)  # the loop ran a number of times the picture does not know
        return out

    def _list_input(self, app: Apply) -> list[Shape | None] | None:
        value = app.inputs[0] if app.inputs else None
        if value is None or value.kind != "seq" or app.call is None or not app.call.args:
            return None
        if value.node is not app.call.args[0].value:
            return None  # a list built elsewhere may have changed since
        return [self.of(v) for v in value.items]

    def _apply(self, layer: LayerDef, shape: Shape | None) -> Shape | None:
        """The output shape of `layer` on an input of `shape`."""
        short = layer.short
        if shape is None:
            return None
        rank = len(shape)
        if short in IDENTITY:
            return shape
        needed = INPUT_RANK.get(short)
        if needed is not None and rank != needed + 1:
            return None  # Keras raises
        if short == "Dense":
            units = self.arg(layer, "units", 0)
            if rank < 2:
                return None
            return (*shape[:-1], units if _int(units) is not None and units > 0 else None)
        if short in CONVS:
            return self._conv(layer, shape, *CONVS[short])
        if short in POOLS:
            return self._pool(layer, shape, POOLS[short])
        if short in GLOBAL_POOLS:
            first = self._first(layer, 0)
            keep = self.arg(layer, "keepdims", 1, False)
            if first is None or not isinstance(keep, bool):
                return None
            channels = shape[1] if first else shape[-1]
            if keep:
                return (shape[0], channels, *(1,) * (rank - 2)) if first else (shape[0], *(1,) * (rank - 2), channels)
            return (shape[0], channels)
        if short == "Flatten":
            if rank < 2:
                return None
            rest = shape[1:]
            size = math.prod(rest) if all(d is not None for d in rest) else None
            return (shape[0], size)
        if short == "Reshape":
            return _reshape(shape, self.arg(layer, "target_shape", 0))
        if short == "Permute":
            dims = self.arg(layer, "dims", 0)
            if not isinstance(dims, (tuple, list)) or sorted(dims) != list(range(1, rank)):
                return None
            return (shape[0], *(shape[d] for d in dims))
        if short == "RepeatVector":
            n = self.arg(layer, "n", 0)
            return (shape[0], n if _int(n) is not None and n > 0 else None, shape[1])
        if short in UPSAMPLING:
            n = UPSAMPLING[short]
            size = _ints(self.arg(layer, "size", 0, 2 if n == 1 else (2,) * n), n)
            first = self._first(layer, 1) if n > 1 else False
            if size is None or first is None:
                return None
            return _spatial(shape, first, lambda i, d: d * size[i] if d is not None else None)
        if short in ZERO_PADDING or short in CROPPING:
            n = ZERO_PADDING.get(short) or CROPPING[short]
            pad = short in ZERO_PADDING
            keyword = "padding" if pad else "cropping"
            default = (1, 1) if n == 1 and not pad else 1 if n == 1 else (1,) * n if pad else ((0, 0),) * n
            if short == "Cropping3D":
                default = ((1, 1),) * 3
            pairs = _pairs(self.arg(layer, keyword, 0, default), n)
            first = self._first(layer, 1) if (n > 1 or pad) else False
            if pairs is None or first is None:
                return None
            sign = 1 if pad else -1
            return _spatial(shape, first,
                            lambda i, d: d + sign * (pairs[i][0] + pairs[i][1]) if d is not None else None)
        if short == "Embedding":
            dim = self.arg(layer, "output_dim", 1)
            return (*shape, dim if _int(dim) is not None and dim > 0 else None)
        if short in RECURRENT:
            return self._recurrent(layer, shape)
        if short == "Bidirectional":
            return self._bidirectional(layer, shape)
        if short == "TimeDistributed":
            inner = self._wrapped(layer)
            if inner is None or rank < 3:
                return None
            out = self._apply(inner, (shape[0], *shape[2:]))
            return (shape[0], shape[1], *out[1:]) if out is not None else None
        return None

    def _first(self, layer: LayerDef, position: int | None) -> bool | None:
        fmt = self.arg(layer, "data_format", position, None)
        if fmt is None:
            fmt = self.default_format()
        return {"channels_last": False, "channels_first": True}.get(fmt) if isinstance(fmt, str) else None

    def _conv(self, layer: LayerDef, shape: Shape, n: int, kind: str) -> Shape | None:
        depthwise = kind == "depthwise"
        offset = -1 if depthwise else 0  # DepthwiseConv has no `filters`
        if layer.name.startswith("keras.layers.Convolution") and sum(1 for a in layer.node.args if a.keyword is None) > 2:
            return None  # Keras 1's Convolution2D(filters, rows, cols): positions changed meaning since
        kernel = _ints(self.arg(layer, "kernel_size", 1 + offset), n)
        strides = _ints(self.arg(layer, "strides", 2 + offset, 1), n)
        padding = self.arg(layer, "padding", 3 + offset, "valid")
        if kind == "transpose":
            out_pad = self.arg(layer, "output_padding", 4, None)
            fmt_pos, dil_pos = 5, 6
        elif depthwise:
            out_pad, fmt_pos, dil_pos = None, 4, 5
        else:
            out_pad, fmt_pos, dil_pos = None, 4 + offset, 5 + offset
        first = self._first(layer, fmt_pos)
        dilation = _ints(self.arg(layer, "dilation_rate", dil_pos, 1), n)
        if kernel is None or strides is None or dilation is None or first is None or not isinstance(padding, str):
            return None
        padding = padding.lower()
        if padding not in ("valid", "same") and not (padding == "causal" and n == 1 and kind == "conv"):
            return None
        if max(strides) > 1 and max(dilation) > 1:
            return None  # Keras refuses the combination
        if depthwise:
            multiplier = self.arg(layer, "depth_multiplier", 3, 1)
            channels = shape[1] if first else shape[-1]
            filters = channels * multiplier if _int(multiplier) and channels is not None else None
        else:
            filters = self.arg(layer, "filters", 0)
            filters = filters if _int(filters) is not None and filters > 0 else None
        if kind == "transpose":
            pads = _ints(out_pad, n, low=0) if out_pad is not None else (None,) * n
            if pads is None:
                return None
            out = _spatial(shape, first, lambda i, d: _transpose_length(d, kernel[i], strides[i], padding,
                                                                        dilation[i], pads[i]))
        else:
            out = _spatial(shape, first, lambda i, d: conv_length(d, kernel[i], strides[i], padding, dilation[i]))
        return _with_channels(out, first, filters)

    def _pool(self, layer: LayerDef, shape: Shape, n: int) -> Shape | None:
        if layer.short.startswith("A") and layer.given("pool_size", 0) is False and layer.canon.flavor != "tf_keras":
            return None  # Keras 3's average pooling has no default pool_size: the construction raises
        size = _ints(self.arg(layer, "pool_size", 0, 2 if n == 1 else (2,) * n), n)
        strides_value = self.arg(layer, "strides", 1, None)
        strides = size if strides_value is None else _ints(strides_value, n)
        padding = self.arg(layer, "padding", 2, "valid")
        first = self._first(layer, 3)
        if size is None or strides is None or first is None or not isinstance(padding, str):
            return None
        padding = padding.lower()
        if padding not in ("valid", "same"):
            return None
        return _spatial(shape, first, lambda i, d: pool_length(d, size[i], strides[i], padding))

    def _recurrent(self, layer: LayerDef, shape: Shape) -> Shape | None:
        units = self.arg(layer, "units", 0)
        sequences = self.arg(layer, "return_sequences", None, False)
        state = self.arg(layer, "return_state", None, False)
        major = self.arg(layer, "time_major", None, False)
        if sequences not in (True, False) or state is not False or major is not False:
            return None
        units = units if _int(units) is not None and units > 0 else None
        return (shape[0], shape[1], units) if sequences else (shape[0], units)

    def _wrapped(self, layer: LayerDef) -> LayerDef | None:
        value = layer.value("layer", 0)
        if value is None or value.kind != "layer" or value.layer is None:
            return None
        inner = value.layer
        return inner if inner.canon.flavor is not None and not inner.opaque else None

    def _bidirectional(self, layer: LayerDef, shape: Shape) -> Shape | None:
        inner = self._wrapped(layer)
        mode = self.arg(layer, "merge_mode", 1, "concat")
        if inner is None or inner.short not in RECURRENT or layer.given("backward_layer") is not False:
            return None
        out = self._apply(inner, shape)
        if out is None or mode not in ("concat", "sum", "ave", "mul"):
            return None
        if mode == "concat":
            return (*out[:-1], out[-1] * 2 if out[-1] is not None else None)
        return out


def _dims_with_batch(value: Any) -> Shape | None:
    if not isinstance(value, (tuple, list)) or not value:
        return None
    batch, rest = value[0], _dims(value[1:])
    if rest is None or not (batch is None or (_int(batch) is not None and batch > 0)):
        return None
    return (batch, *rest)


def _spatial(shape: Shape, first: bool, fn) -> Shape:
    axes = list(spatial_axes(len(shape), first))
    out = list(shape)
    for i, axis in enumerate(axes):
        out[axis] = fn(i, shape[axis])
    return tuple(out)


def _with_channels(shape: Shape, first: bool, channels: int | None) -> Shape:
    out = list(shape)
    out[1 if first else -1] = channels
    return tuple(out)


def _reshape(shape: Shape, target: Any) -> Shape | None:
    if not isinstance(target, (tuple, list)) or not all(_int(d) is not None and (d > 0 or d == -1) for d in target):
        return None
    if list(target).count(-1) > 1:
        return None
    rest = shape[1:]
    size = math.prod(rest) if all(d is not None for d in rest) else None
    if -1 not in target:
        return (shape[0], *target) if size is None or size == math.prod(target) else None
    known = math.prod(d for d in target if d != -1)
    if size is None:
        return (shape[0], *(None if d == -1 else d for d in target))
    if size % known:
        return None  # Keras raises
    return (shape[0], *(size // known if d == -1 else d for d in target))


def _concatenate(shapes: list[Shape | None], axis: Any) -> Shape | None:
    if len(shapes) < 2 or any(s is None for s in shapes) or _int(axis) is None:
        return None
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes) or not -rank <= axis < rank or axis % rank == 0:
        return None
    axis %= rank
    out = []
    for i in range(rank):
        dims = [s[i] for s in shapes]
        if i == axis:
            out.append(sum(dims) if all(d is not None for d in dims) else None)
        else:
            known = {d for d in dims if d is not None}
            if len(known) > 1:
                return None  # Keras raises
            out.append(known.pop() if known else None)
    return tuple(out)


def _broadcast(shapes: list[Shape | None]) -> Shape | None:
    if len(shapes) < 2 or any(s is None for s in shapes):
        return None
    rank = len(shapes[0])
    if any(len(s) != rank for s in shapes):
        return None
    out: list[int | None] = [None]
    for i in range(1, rank):
        dims = [s[i] for s in shapes]
        if any(d is None for d in dims):
            out.append(None)
            continue
        big = {d for d in dims if d != 1}
        if len(big) > 1:
            return None  # Keras raises
        out.append(big.pop() if big else 1)
    return tuple(out)


def iter_spatial(shape: Shape, first: bool) -> Iterator[int | None]:
    for axis in spatial_axes(len(shape), first):
        yield shape[axis]
