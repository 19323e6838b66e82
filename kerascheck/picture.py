"""One picture of the Keras code in a file, built once for every rule.

A small abstract interpreter walks the module, each function and each Keras
`Layer`/`Model` subclass once, following values through assignments,
branches (as a union of what each branch produced; a branch whose test is a
known constant is the only one taken), loops over literal sequences,
same-file helper functions (parameters a call leaves out get their defaults),
lambdas, `self.` attributes, lists grown by `append`/`extend`/`insert` and
dict literals (also when unpacked into a layer's `**kwargs`). What it records:

- `layers`: every construction of a Keras layer class, with its arguments;
- `applies`: every application of a layer to an input, whichever syntax did
  it (`Sequential([...])`, `model.add(...)`, `Layer(...)(x)`, `self.bn(x)`),
  with the values it consumed, so `producers()` gives the graph's edges; one
  layer object listed twice is one `LayerDef` with two applications;
- `calls`, `methods`, `binops`, `models`: calls to resolved functions (`tf.*`,
  `np.*`, `keras.ops.*`), method calls (`model.compile`, `self.add_weight`),
  arithmetic and `Model(...)` constructions, with the abstract values of
  their operands (is it a symbolic KerasTensor? where was it created?); a
  method call on a model keeps a `Snapshot` of the model's Sequential layers
  and of its arguments' lists and dicts as they were at the call;
- `classes`: the file's Keras `Layer`/`Model`/`Constraint` subclasses (with
  what a model's `call()` returns); `sequentials`: each `Sequential(...)`.

`training` is the view of models, outputs and `compile` calls built on this
(kerascheck/training.py), on first use.

Each record carries its `Site`: where the code runs (function, class, inside
`call()`, the call chain that inlined it, the names that carry the training
flag there).

What cannot be followed exactly becomes an "unknown" value, which never
connects two layers: a rule may miss, but it is not misled.
"""

from __future__ import annotations

import builtins
import itertools
import operator
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import libcst as cst

from kerascheck.flow import NOT_CONSTANT, Flow, fold, literal_value
from kerascheck.names import Canon, Names, Scope, keras_class_kind_of, walk_statements

if TYPE_CHECKING:
    from kerascheck.training import Training

MAX_UNROLL = 32  # items of a literal sequence a loop is unrolled over
MAX_INLINE_DEPTH = 5  # helpers inlined inside helpers: a model built 4-5 calls deep is still seen
BUDGET = 40_000  # statements interpreted per file, inlining included
NOT_LAYERS = frozenset({"Layer", "InputSpec", "Input", "InputLayer"})
MODEL_MAKERS = frozenset({"keras.models.load_model", "keras.saving.load_model", "keras.models.clone_model"})
MODEL_TENSORS = frozenset({"output", "outputs", "input", "inputs"})  # measured: kc004_from_calls.py
TRAINING = frozenset({"training"})
# Keras functions that return a model (besides `Sequential`/`Model` and `keras.applications.X`).
MODEL_FUNCTIONS = frozenset({"keras.models.load_model", "keras.saving.load_model", "keras.models.clone_model",
                             "keras.models.model_from_json", "keras.models.model_from_yaml"})
_CALLED = re.compile(r"\b(\w++)\s*+\(")  # names written before a `(`: a `def` and each call
_BUILTINS = frozenset(dir(builtins))  # `print(model)` leaves a model as it was

_SEQ = itertools.count()  # records are numbered in the order the interpreter made them


def _seq() -> int:
    return next(_SEQ)


__all__ = ["Apply", "BinOpEvent", "CallEvent", "KerasClass", "LayerDef", "MethodCallEvent", "ModelEvent",
           "NOT_CONSTANT", "Picture", "Site", "Snapshot", "Value", "build", "call_arg", "literal_number",
           "literal_string", "literal_value"]


# ----------------------------------------------------------------- values


@dataclass(frozen=True, eq=False)
class Site:
    """Where a piece of code runs."""

    function: cst.FunctionDef | cst.Lambda | None = None  # innermost function (callee when inlined)
    cls: KerasClass | None = None  # the Keras class whose method this is
    in_call: bool = False  # inside a Keras Layer/Model `call()` (or a helper or lambda it reached)
    scope: Scope | None = None
    # Where the run that reached this code started: "module" (module-level code and what it
    # inlined), "function" (a function run on its own, parameters unknown) or "method" (a
    # method of a Keras class). Inlined helpers inherit it from their caller.
    entry: str = "module"
    caller: cst.Call | None = None  # the call that inlined this function
    outer: Site | None = None  # the caller's site
    flags: frozenset[str] = TRAINING  # names that carry the training flag here
    # The definition of another project module this code is in (a crossfile.Entry), or None
    # for the file's own code.
    origin: Any = None

    def __repr__(self) -> str:
        fn = self.function
        name = fn.name.value if isinstance(fn, cst.FunctionDef) else "<lambda>" if fn is not None else "<module>"
        return f"Site({name}, cls={self.cls.name if self.cls else None}, in_call={self.in_call}, entry={self.entry})"

    def chain(self) -> Iterator[Site]:
        """This site and the sites that inlined it, innermost first."""
        site: Site | None = self
        while site is not None:
            yield site
            site = site.outer


@dataclass(frozen=True, eq=False)
class LayerDef:
    """A Keras layer constructed in the file: `layers.Dropout(0.5)`.

    `extra` holds the keyword arguments a known dict gave through `**kwargs`;
    `opaque` is True when `*args`/`**kwargs` whose contents are unknown were passed;
    `values` are the arguments' abstract values where the construction ran (a parameter of an
    inlined helper is the value its call site gave), by position or keyword.
    """

    canon: Canon
    node: cst.Call
    site: Site
    extra: tuple[tuple[str, cst.BaseExpression], ...] = ()
    opaque: bool = False
    values: tuple[tuple[int | str, Value], ...] = ()

    @property
    def name(self) -> str:
        return self.canon.name

    @property
    def short(self) -> str:
        return self.canon.short

    def __repr__(self) -> str:
        return f"LayerDef({self.name})"

    def arg(self, keyword: str, position: int | None = None) -> cst.BaseExpression | None:
        """The expression given for a parameter, by keyword (also through a known `**dict`)
        or position; None when absent or not known."""
        found = call_arg(self.node, keyword, position)
        if found is not None:
            return found
        for key, expr in self.extra:
            if key == keyword:
                return expr
        return None

    def value(self, keyword: str, position: int | None = None) -> Value | None:
        """The abstract value given for a parameter, by keyword or position (None when absent,
        or when `*args` make positions unknown)."""
        for key, value in self.values:
            if key == keyword or (key == position and position is not None):
                return value
        return None

    def given(self, keyword: str, position: int | None = None) -> bool | None:
        """Is the parameter given? None when unknown `*args`/`**kwargs` may give it."""
        if self.arg(keyword, position) is not None:
            return True
        return None if self.opaque else False


@dataclass(frozen=True, eq=False)
class Apply:
    """A layer applied to inputs. `via`: sequential | add | functional | subclass."""

    layer: LayerDef
    inputs: tuple[Value, ...]
    node: cst.CSTNode  # the call `layer(x)`, or the list element / add() call
    via: str
    site: Site
    adjacent: bool = False  # the producer is the previous element of the same list
    call: cst.Call | None = None  # the application call, when there is one
    repeat: bool = False  # the same layer object was already added to this Sequential model
    model: int | None = None  # sequential/add: the heap key (Value.oid) of the Sequential model
    seq: int = field(default_factory=_seq)  # order of interpretation (records of all kinds)
    # Made only under an `if` on a parameter whose value is not known here (`if dropout_rate:` in
    # a helper run without a call that gives it): whether it happens depends on the caller.
    conditional: bool = False
    # Made because a call's argument (or a default it left out) decided such an `if`: that call,
    # where the choice was made (`block(x, dropout_rate=0.3)`), outermost first.
    decided: cst.Call | None = None
    first: bool = False  # the first layer of a Sequential model: nothing was added before it
    looped: bool = False  # made in a loop the interpreter did not unroll exactly (`range(n)`, `while`)

    def kwarg(self, keyword: str) -> cst.BaseExpression | None:
        return call_arg(self.call, keyword, None) if self.call is not None else None

    def __repr__(self) -> str:
        return f"Apply({self.layer.name}, via={self.via})"


@dataclass(frozen=True, eq=False)
class Value:
    """An abstract value. kind: unknown | ref | layer | model | seq | dict | tensor | const |
    literal | func | class | self | weight (`self.add_weight(...)`, node: that call) | union."""

    kind: str
    node: cst.CSTNode | None = None  # where it was created
    canon: Canon | None = None  # ref: the resolved name; const: the function that made it
    layer: LayerDef | None = None  # layer: the layer; tensor: the `keras.Input(...)` that made it
    app: Apply | None = None  # tensor: the application that produced it
    items: tuple[Value, ...] = ()  # seq (exact items), dict (values) and union (alternatives)
    kt: bool = False  # a symbolic KerasTensor
    lib: str | None = None  # const: "tf" | "numpy"
    oid: int | None = None  # model / list: key of its mutable state in the heap
    func: cst.FunctionDef | cst.Lambda | None = None
    cls: KerasClass | None = None
    label: str | None = None  # the name it was bound to, for messages
    lit: Any = NOT_CONSTANT  # literal: the Python value
    keys: tuple[tuple[str, cst.BaseExpression], ...] = ()  # dict: string keys and their expressions
    # A KerasTensor: where the chain of raw ops, operators and slicing that gave it began (an
    # `Input`, a layer's or model's output); two ops on one root share one cause.
    root: cst.CSTNode | None = None

    def origin(self) -> cst.CSTNode | None:
        return self.root if self.root is not None else self.node

    def __repr__(self) -> str:
        extra = f", {self.canon.name}" if self.canon else ""
        extra += f", lit={self.lit!r}" if self.kind == "literal" else ""
        return f"Value({self.kind}{extra}{', kt' if self.kt else ''}{', ' + self.label if self.label else ''})"

    def is_model(self) -> bool:
        """Is this a Keras model in every alternative: a `Sequential`/`Model`, a loaded, cloned or
        `keras.applications` model, or an instance of the file's own `keras.Model` subclass?"""
        return all(alt.kind == "model" or (alt.kind == "layer" and alt.cls is not None and alt.cls.kind == "model")
                   for alt in self.alternatives())

    def alternatives(self) -> Iterator[Value]:
        if self.kind == "union":
            yield from self.items
        else:
            yield self

    def truth(self) -> bool | None:
        """True/False when every alternative is a literal of that truth value, else None."""
        seen = set()
        for alt in self.alternatives():
            if alt.kind != "literal":
                return None
            try:
                seen.add(bool(alt.lit))
            except Exception:  # noqa: BLE001
                return None
        return seen.pop() if len(seen) == 1 else None


UNKNOWN = Value("unknown")
_START = Value("unknown")  # what the first layer of a Sequential model consumes


def union(values) -> Value:
    flat: list[Value] = []
    for v in values:
        for alt in v.alternatives():
            if not any(alt is f for f in flat):
                flat.append(alt)
    if len(flat) == 1:
        return flat[0]
    if not flat or len(flat) > 16:
        return UNKNOWN
    return Value("union", items=tuple(flat), kt=all(v.kt for v in flat))


@dataclass(frozen=True, eq=False)
class CallEvent:
    """A call to a resolved function (`tf.reduce_sum(x)`, `np.ones(3)`, `keras.ops.add`).

    `symbolic`: the KerasTensors among the operands, also inside lists and tuples (as the
    lists were at the call: `xs.append(kt); tf.concat(xs)` counts)."""

    canon: Canon
    node: cst.Call
    args: tuple[Value, ...]
    kwargs: tuple[tuple[str, Value], ...]
    site: Site
    symbolic: tuple[Value, ...] = ()
    seq: int = field(default_factory=_seq)

    def operands(self) -> Iterator[Value]:
        yield from self.args
        for _, v in self.kwargs:
            yield v

    def __repr__(self) -> str:
        return f"CallEvent({self.canon.name}, {self.site!r})"


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The mutable state of some values as it was at one call: a Sequential model's output so
    far, the items of a list, the entries of a dict (lists and dicts change after the call)."""

    states: dict[int, object] = field(default_factory=dict)

    def items(self, value: Value) -> list[Value] | None:
        """The items of a list or tuple value at the call; None when not known exactly."""
        if value.kind != "seq":
            return None
        if value.oid is None:
            return list(value.items)
        state = self.states.get(value.oid)
        return list(state) if isinstance(state, tuple) else None

    def entries(self, value: Value) -> dict[str, Value] | None:
        """The string-keyed entries of a dict value at the call; None when not known exactly."""
        state = self.states.get(value.oid) if value.kind == "dict" and value.oid is not None else None
        return dict(state) if isinstance(state, dict) else None

    def sequential_output(self, value: Value) -> Value | None:
        """What a Sequential model's layers output at the call (its last layer's application;
        unknown when a layer is not visible); None when `value` is not a Sequential model."""
        state = self.states.get(value.oid) if value.kind == "model" and value.oid is not None else None
        return state.last if isinstance(state, _SeqState) else None


@dataclass(frozen=True, eq=False)
class MethodCallEvent:
    """A method call on a value that is not a module: `model.compile(...)`, `self.add_weight(...)`,
    `opt.apply_gradients(...)`. `receiver` is the abstract value of the object (kind "self"
    for the class's own instance). For a receiver that is a model or layer, `state` holds the
    receiver's and the arguments' lists, dicts and Sequential layers as they were at the call."""

    name: str
    receiver: Value
    node: cst.Call
    args: tuple[Value, ...]
    kwargs: tuple[tuple[str, Value], ...]
    site: Site
    state: Snapshot = field(default_factory=Snapshot)
    seq: int = field(default_factory=_seq)

    def __repr__(self) -> str:
        return f"MethodCallEvent(.{self.name}, {self.receiver!r})"


@dataclass(frozen=True, eq=False)
class BinOpEvent:
    node: cst.BinaryOperation
    left: Value
    right: Value
    site: Site
    seq: int = field(default_factory=_seq)


@dataclass(frozen=True, eq=False)
class ModelEvent:
    """`keras.Model(inputs=..., outputs=...)` (or positional)."""

    canon: Canon
    node: cst.Call
    inputs: Value | None
    outputs: Value | None
    site: Site
    state: Snapshot = field(default_factory=Snapshot)  # the outputs' list or dict at the call
    seq: int = field(default_factory=_seq)


@dataclass(eq=False, repr=False)
class KerasClass:
    """A class in the file deriving from a Keras Layer, Model or Constraint."""

    node: cst.ClassDef
    kind: str  # "layer" | "model" | "constraint"
    bases: tuple[Canon, ...]  # the resolved Keras bases (direct or through a local class)
    methods: dict[str, cst.FunctionDef] = field(default_factory=dict)
    attrs: dict[str, Value] = field(default_factory=dict)  # self.X set in __init__/build
    output: Value | None = None  # what `call()` returns (None: no call() was run)

    @property
    def name(self) -> str:
        return self.node.name.value

    def __repr__(self) -> str:
        return f"KerasClass({self.name}, {self.kind})"


@dataclass(repr=False)
class Picture:
    module: cst.Module
    names: Names
    flow: Flow = None  # type: ignore[assignment]
    layers: list[LayerDef] = field(default_factory=list)
    applies: list[Apply] = field(default_factory=list)
    calls: list[CallEvent] = field(default_factory=list)
    methods: list[MethodCallEvent] = field(default_factory=list)
    binops: list[BinOpEvent] = field(default_factory=list)
    models: list[ModelEvent] = field(default_factory=list)
    classes: list[KerasClass] = field(default_factory=list)
    lambdas: list[LayerDef] = field(default_factory=list)  # Lambda layers
    sequentials: dict[int, cst.Call] = field(default_factory=dict)  # Sequential model (Value.oid) -> its call
    instances: list[LayerDef] = field(default_factory=list)  # constructions of the file's own Layer/Model classes
    text: str | None = None  # the source text, when known
    references: set[str] = field(default_factory=set)  # canonical names of every resolved name read
    # Across files: the project index as this file sees it (project.View, or None), the
    # definitions of other modules loaded for it (crossfile.Loaded), and the Keras classes among
    # them that a rule asked for (an imported constraint class) or that the file instantiates
    # (a Model subclass, run for the training set-up).
    project: Any = None
    loaded: Any = None
    foreign_classes: list[KerasClass] = field(default_factory=list)
    _shapes: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.flow is None:
            self.flow = Flow(self.module, self.names)
        if self.loaded is None:
            from kerascheck.crossfile import Loaded

            self.loaded = Loaded()
        if self.project is not None:
            self.flow.external = self.imported_constant
            self.loaded.constant = self.imported_constant

    def imported_constant(self, name: cst.Name, scope: Scope | None = None) -> Any:
        """The value of a name bound to a literal constant of another module of the project."""
        canon = self.resolve(name, scope if scope is not None else name)
        sym = self.project.symbol(canon.name) if canon is not None and canon.flavor is None else None
        return sym.value if sym is not None and sym.kind == "const" else NOT_CONSTANT

    # -- nodes of other files -------------------------------------------------------------------

    def entry_of(self, node: cst.CSTNode | None):
        """The loaded definition of another module that `node` belongs to (None: this file)."""
        return self.loaded.of(node) if node is not None and self.loaded.owner else None

    def flow_for(self, node: cst.CSTNode | None) -> Flow:
        """The flow (parents, constants, gating) of the module `node` belongs to."""
        entry = self.entry_of(node)
        return entry.flow if entry is not None else self.flow

    def names_for(self, node: cst.CSTNode | Scope | None) -> Names:
        if isinstance(node, Scope):
            while node.parent is not None:
                node = node.parent
            node = node.node
        entry = self.entry_of(node)
        return entry.names if entry is not None else self.names

    def module_for(self, node: cst.CSTNode | None) -> cst.Module:
        entry = self.entry_of(node)
        return entry.module if entry is not None else self.module

    @property
    def shapes(self):
        """The static shapes of the applications (kerascheck/shapes.py), computed on first use."""
        if self._shapes is None:
            from kerascheck.shapes import Shapes

            self._shapes = Shapes(self)
        return self._shapes

    def resolve(self, expr: cst.BaseExpression, at: cst.CSTNode | Scope | None = None) -> Canon | None:
        if isinstance(at, Scope):
            scope = at
        elif at is not None:
            scope = self.flow_for(at).scope_of(at)
        else:
            scope = self.names.root
        return self.names_for(scope).resolve(expr, scope)

    def definition_elsewhere(self, name: cst.Name):
        """What an imported project name is, when a rule asks for its definition: the class or
        function statement (loaded from its module, for this name), or a literal constant's
        value as an expression; None when not a project name."""
        project = self.project
        if project is None:
            return None
        canon = self.resolve(name, name)
        sym = project.symbol(canon.name) if canon is not None and canon.flavor is None else None
        if sym is None:
            return None
        if sym.kind == "const":
            try:
                return cst.parse_expression(repr(sym.value))
            except Exception:  # noqa: BLE001
                return None
        if sym.kind not in ("def", "class"):
            return None
        entry = self.loaded.get(project, sym, name)
        if entry is None:
            return None
        if sym.kind == "class" and self.class_of(entry.node) is None:
            kc = _foreign_class(self, entry, sym, name)
            if kc is not None:
                self.foreign_classes.append(kc)
        return entry.node

    def producers(self, app: Apply) -> Iterator[Apply]:
        """The applications whose output `app` consumes (through unions and lists)."""
        seen: set[int] = set()
        stack = list(app.inputs)
        while stack:
            v = stack.pop()
            if id(v) in seen:
                continue
            seen.add(id(v))
            if v.kind in ("union", "seq"):
                stack.extend(v.items)
            elif v.app is not None:
                yield v.app

    def applications(self, layer: LayerDef) -> list[Apply]:
        """Every application of one layer object (a shared layer is applied more than once)."""
        return [a for a in self.applies if a.layer is layer]

    def function_defs(self) -> Iterator[cst.FunctionDef]:
        for node in walk_statements(self.module.body):
            if isinstance(node, cst.FunctionDef):
                yield node

    def class_of(self, node: cst.ClassDef) -> KerasClass | None:
        for kc in (*self.classes, *self.foreign_classes):
            if kc.node is node:
                return kc
        return None

    @cached_property
    def training(self) -> Training:
        """The models' outputs and `compile` calls (kerascheck/training.py), built on first use."""
        from kerascheck.training import Training

        return Training(self)


STRUCTURAL_METHODS = ("__init__", "build", "call", "__call__")


def _inherited(pic: Picture, sym, anchor, methods: dict, depth: int = 0) -> None:
    """The structural methods (`__init__`, `build`, `call`, `__call__`) that a class missing them
    inherits from project class `sym`, loaded for `anchor`, nearest base first."""
    project = pic.project
    missing = [m for m in STRUCTURAL_METHODS if m not in methods]
    if not missing or depth > 8 or sym.info is None:
        return
    if any(m in sym.info.get("methods", ()) for m in missing):
        entry = pic.loaded.get(project, sym, anchor)
        if entry is not None:
            for stmt in _suite_body(entry.node.body):
                if isinstance(stmt, cst.FunctionDef) and stmt.name.value in missing:
                    methods.setdefault(stmt.name.value, stmt)
    for base in project.index.bases_of(sym):
        _inherited(pic, base, anchor, methods, depth + 1)


def _foreign_class(pic: Picture, entry, sym, anchor) -> KerasClass | None:
    """A project class of another module, as a KerasClass with its own and inherited methods."""
    kind = pic.project.index.class_kind(sym)
    if kind is None:
        return None
    from kerascheck.names import canonical

    kc = KerasClass(entry.node, kind[0], tuple(canonical(b) for b in kind[1]))
    for stmt in _suite_body(entry.node.body):
        if isinstance(stmt, cst.FunctionDef):
            kc.methods[stmt.name.value] = stmt
    for base in pic.project.index.bases_of(sym):
        _inherited(pic, base, anchor, kc.methods)
    return kc


def call_arg(call: cst.Call | None, keyword: str, position: int | None) -> cst.BaseExpression | None:
    if call is None:
        return None
    index = 0
    for arg in call.args:
        if arg.star:  # *args / **kwargs: what lands where is not known
            return None
        if arg.keyword is not None:
            if arg.keyword.value == keyword:
                return arg.value
        else:
            if position is not None and index == position:
                return arg.value
            index += 1
    return None


def literal_number(expr: cst.BaseExpression | None) -> float | None:
    """The value of a numeric literal (`0`, `0.5`, `-1`, `1e-3`), else None."""
    value = literal_value(expr)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def literal_string(expr: cst.BaseExpression | None) -> str | None:
    value = literal_value(expr) if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)) else None
    return value if isinstance(value, str) else None


# ----------------------------------------------------------- interpreter


class _Env:
    __slots__ = ("vars", "heap")

    def __init__(self, vars=None, heap=None) -> None:
        self.vars: dict[str, Value] = vars if vars is not None else {}
        self.heap: dict[int, object] = heap if heap is not None else {}

    def copy(self) -> _Env:
        return _Env(dict(self.vars), dict(self.heap))

    def join(self, others: list[_Env]) -> None:
        """Make self the union of the environments `others` (branches)."""
        if len(others) == 1:
            self.vars, self.heap = others[0].vars, others[0].heap
            return
        self.vars = _join_maps([o.vars for o in others], lambda values: union(values))
        self.heap = _join_maps([o.heap for o in others], _join_states)


def _join_maps(maps: list[dict], merge) -> dict:
    """Key by key: the one value every map holds (the common case: most names and most of the
    heap are untouched by a branch), else `merge` of the values the maps hold."""
    first, rest = maps[0], maps[1:]
    order = list(first)
    if all(len(m) == len(order) and list(m) == order for m in rest):
        # Branches copied from one environment: the same keys in the same order. Compare the
        # values by identity in C; merge only the keys some branch changed.
        values = list(first.values())
        changed: set[int] = set()
        for m in rest:
            same = list(map(operator.is_, values, m.values()))
            if not all(same):
                changed.update(i for i, s in enumerate(same) if not s)
        if not changed:
            return dict(first)
        out = dict(first)
        for i in changed:
            key = order[i]
            out[key] = merge([m[key] for m in maps])
        return out
    keys = set(first).union(*rest)
    out = {}
    for key in keys:
        value = first.get(key, _MISSING)
        if value is not _MISSING and all(m.get(key, _MISSING) is value for m in rest):
            out[key] = value
        else:
            out[key] = merge([m[key] for m in maps if key in m])
    return out


def _join_states(states: list) -> object:
    first = states[0]
    if all(s == first for s in states):
        return first
    if isinstance(first, _SeqState):
        return _SeqState(union([s.last for s in states]), None, frozenset())
    return None  # a list that differs between branches: inexact


_MISSING = object()


@dataclass(frozen=True)
class _SeqState:
    last: Value  # what the next added layer consumes
    last_layer: LayerDef | None  # the previous layer, for adjacency
    added: frozenset[int]  # ids of the layer objects added so far


class _Return(Exception):
    pass


class _Interpreter:
    def __init__(self, pic: Picture) -> None:
        self.pic = pic
        self.names = pic.names
        self.flow = pic.flow
        self.budget = BUDGET
        self.oids = itertools.count(1)
        self.depth = 0
        self.globals: dict[str, Value] = {}
        self._module_env: _Env | None = None
        self.class_of: dict[cst.ClassDef, KerasClass] = {}
        self.functions_run: set[int] = set()
        self.self_name: str | None = None
        self.self_attrs: dict[str, Value] | None = None
        self.global_heap: dict[int, object] = {}
        self.returns: list[Value] | None = None
        self.inexact = 0  # depth of loops whose iterations are not followed one by one
        self.conditional = 0  # depth of `if`s on unknown parameters around the current code
        self.decided: list[cst.Call] = []  # calls whose arguments decided the `if`s around it

    # -- entry ---------------------------------------------------------------

    def run(self) -> None:
        module = self.pic.module
        self._find_classes(module)
        env = _Env()
        site = Site(scope=self.names.root)
        # While module-level code runs, the functions it inlines see the module's names so far
        # (`env.vars`: the same dict, or its replacement after a branch joins).
        self._module_env = env
        try:
            self.block(module.body, env, site)
        except _Return:  # a module-level `raise`: what ran until then is the picture
            pass
        self.globals = env.vars
        self.global_heap = env.heap
        self._module_env = None
        for cls in self.pic.classes:
            self._run_class(cls)
        # Functions the file never calls run first, on their own; the helpers they call are
        # then run where they are called, with the arguments (or defaults) of each call. A
        # function no run reached runs on its own last, with unknown parameters.
        functions = list(self.pic.function_defs())
        counts = Counter(_CALLED.findall(self.pic.text)) if self.pic.text is not None else None
        called = {id(fn) for fn in functions if counts is None or counts[fn.name.value] > 1}
        for fn in [f for f in functions if id(f) not in called] + [f for f in functions if id(f) in called]:
            if id(fn) not in self.functions_run:
                self._run_standalone(fn)

    def _find_classes(self, module: cst.Module) -> None:
        defs: dict[str, cst.ClassDef] = {}
        order: list[cst.ClassDef] = []
        for node in walk_statements(module.body):
            if isinstance(node, cst.ClassDef):
                defs.setdefault(node.name.value, node)
                order.append(node)

        kinds: dict[int, tuple[str, tuple[Canon, ...]] | None] = {}
        project_bases: dict[int, list] = {}  # class -> (project.Symbol, base expression) of other modules

        def kind_of(cls: cst.ClassDef, seen: frozenset[int]) -> tuple[str, tuple[Canon, ...]] | None:
            if id(cls) in kinds:
                return kinds[id(cls)]
            kinds[id(cls)] = None
            scope = self.names.scope_of(cls).parent or self.names.root
            result = None
            for base in cls.bases:
                if base.keyword is not None:
                    continue
                canon = self.names.resolve(base.value, scope)
                if canon is not None and canon.flavor is not None:
                    k = keras_class_kind_of(canon)
                    if k:
                        result = (k, (canon,))
                        break
                elif isinstance(base.value, cst.Name) and base.value.value in defs:
                    parent = defs[base.value.value]
                    if id(parent) not in seen and parent is not cls:
                        got = kind_of(parent, seen | {id(cls)})
                        if got:
                            result = got
                            break
                elif canon is not None and self.pic.project is not None:  # a class of another module
                    sym = self.pic.project.symbol(canon.name)
                    got = self.pic.project.index.class_kind(sym) if sym is not None else None
                    if got:
                        from kerascheck.names import canonical

                        result = (got[0], tuple(canonical(b) for b in got[1]))
                        project_bases.setdefault(id(cls), []).append((sym, base.value))
                        break
            kinds[id(cls)] = result
            return result

        for cls in order:
            got = kind_of(cls, frozenset())
            if got:
                kc = KerasClass(cls, got[0], got[1])
                for stmt in _suite_body(cls.body):
                    if isinstance(stmt, cst.FunctionDef):
                        kc.methods[stmt.name.value] = stmt
                self.pic.classes.append(kc)
                self.class_of[cls] = kc
        # Inherited structural methods from local Keras bases.
        for kc in self.pic.classes:
            for base in kc.node.bases:
                if isinstance(base.value, cst.Name) and base.value.value in defs:
                    parent = self.class_of.get(defs[base.value.value])
                    if parent is not None:
                        for name, fn in parent.methods.items():
                            kc.methods.setdefault(name, fn)
            # ... and from Keras bases in other modules (loaded for the base expression).
            for sym, expr in project_bases.get(id(kc.node), ()):
                _inherited(self.pic, sym, expr, kc.methods)

    def _run_class(self, kc: KerasClass) -> None:
        def site_of(fn: cst.FunctionDef, in_call: bool = False) -> Site:
            return Site(fn, kc, in_call, self._scope(fn), "method", flags=TRAINING, origin=self.pic.entry_of(fn))

        attrs: dict[str, Value] = {}
        heap = dict(self.global_heap)
        for name in ("__init__", "build"):
            fn = kc.methods.get(name)
            if fn is None:
                continue
            self.functions_run.add(id(fn))
            env = self._params_env(fn, heap=heap)
            self._exec_function(fn, env, site_of(fn), self_attrs=attrs)
            heap = env.heap
        kc.attrs = attrs
        for name, fn in kc.methods.items():
            if name in ("__init__", "build") or id(fn) in self.functions_run:
                continue
            self.functions_run.add(id(fn))
            in_call = kc.kind in ("layer", "model") and name in ("call", "__call__")
            env = self._params_env(fn, heap=dict(heap))
            result = self._exec_function(fn, env, site_of(fn, in_call), self_attrs=attrs)
            if name == "call":
                kc.output = result

    def _params_env(self, fn: cst.FunctionDef, heap=None) -> _Env:
        env = _Env(heap=dict(heap) if heap is not None else dict(self.global_heap))
        params = fn.params
        for p in (*params.posonly_params, *params.params, *params.kwonly_params):
            env.vars[p.name.value] = Value("unknown", node=p, label=p.name.value)
        return env

    def _run_standalone(self, fn: cst.FunctionDef) -> None:
        self.functions_run.add(id(fn))
        env = self._params_env(fn)
        # A function nested in a Keras class's method runs where that method runs.
        in_call, cls = False, None
        scope = self.names.scope_of(fn).parent
        while scope is not None and scope.kind == "function":
            owner = scope.parent
            kc = self.class_of.get(owner.node) if owner is not None and owner.kind == "class" else None
            if kc is not None:
                cls = kc
                in_call = kc.kind in ("layer", "model") and scope.node.name.value in ("call", "__call__")
                break
            scope = owner
        self._exec_function(fn, env, Site(fn, cls, in_call, self.names.scope_of(fn), "function"))

    def _exec_function(self, fn, env: _Env, site: Site, self_attrs=None) -> Value:
        saved = (self.self_name, self.self_attrs, self.returns)
        params = [*fn.params.posonly_params, *fn.params.params]
        if self_attrs is not None and params:
            self.self_name = params[0].name.value
            self.self_attrs = self_attrs
        elif self_attrs is None:
            self.self_name, self.self_attrs = None, None
        self.returns = []
        try:
            self.suite(fn.body, env, site)
        except _Return:
            pass
        result = union(self.returns) if self.returns else UNKNOWN
        self.self_name, self.self_attrs, self.returns = saved
        return result

    # -- statements ------------------------------------------------------------

    def suite(self, suite, env: _Env, site: Site) -> None:
        if isinstance(suite, cst.IndentedBlock):
            self.block(suite.body, env, site)
        elif isinstance(suite, cst.SimpleStatementSuite):
            for small in suite.body:
                self.small(small, env, site)

    def block(self, body, env: _Env, site: Site) -> None:
        for stmt in body:
            self.budget -= 1
            if self.budget < 0:
                return
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self.small(small, env, site)
            else:
                self.compound(stmt, env, site)

    def small(self, small, env: _Env, site: Site) -> None:
        if isinstance(small, cst.Assign):
            value = self.expr(small.value, env, site)
            for target in small.targets:
                self.assign(target.target, value, env, site)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self.assign(small.target, self.expr(small.value, env, site), env, site)
        elif isinstance(small, cst.AugAssign):
            left = self.expr(small.target, env, site)
            right = self.expr(small.value, env, site)
            self.assign(small.target, self._binop(small, left, right, env, site, small.operator), env, site)
        elif isinstance(small, cst.Expr):
            self.expr(small.value, env, site)
        elif isinstance(small, cst.Return):
            if self.returns is not None:
                self.returns.append(self.expr(small.value, env, site) if small.value else UNKNOWN)
            raise _Return
        elif isinstance(small, cst.Del):
            for el in _flatten_targets(small.target):
                if isinstance(el, cst.Name):
                    env.vars.pop(el.value, None)
        elif isinstance(small, cst.Raise):
            raise _Return
        elif isinstance(small, cst.Assert):  # its test runs: the calls in it are calls
            self.expr(small.test, env, site)
            if small.msg is not None:
                self.expr(small.msg, env, site)

    def compound(self, stmt, env: _Env, site: Site) -> None:
        if isinstance(stmt, cst.FunctionDef):
            env.vars[stmt.name.value] = Value("func", node=stmt, func=stmt, label=stmt.name.value)
        elif isinstance(stmt, cst.ClassDef):
            kc = self.class_of.get(stmt)
            env.vars[stmt.name.value] = Value("class", node=stmt, cls=kc, label=stmt.name.value)
        elif isinstance(stmt, cst.If):
            test = self.expr(stmt.test, env, site)
            truth = test.truth()
            unsure = truth is None and self._unsure(test, site)
            decided = None
            if truth is not None and site.caller is not None:
                param = self._param_test(stmt.test, site)
                decided = self._deciding_call(site, param) if param is not None else None
            if decided is not None:
                self.decided.append(decided)
            elif unsure:
                self.conditional += 1
            try:
                if truth is True:  # `if 1:` / `if RATE:` with RATE a known non-zero constant
                    self.suite(stmt.body, env, site)
                elif truth is False:
                    if isinstance(stmt.orelse, cst.If):
                        self.compound(stmt.orelse, env, site)
                    elif isinstance(stmt.orelse, cst.Else):
                        self.suite(stmt.orelse.body, env, site)
                else:
                    self._branches(env, site, [stmt.body, stmt.orelse])
            finally:
                if decided is not None:
                    self.decided.pop()
                elif unsure:
                    self.conditional -= 1
        elif isinstance(stmt, cst.For):
            self._for(stmt, env, site)
        elif isinstance(stmt, cst.While):
            if self.expr(stmt.test, env, site).truth() is False:
                return
            self.inexact += 1
            try:
                self._branches(env, site, [stmt.body, None])
            finally:
                self.inexact -= 1
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            self._guarded(stmt.body, env, site)
            branches = [h.body for h in stmt.handlers]
            if stmt.orelse is not None:
                self._guarded(stmt.orelse.body, env, site)
            if branches:
                self._branches(env, site, [None, *branches])
            if stmt.finalbody is not None:
                self._guarded(stmt.finalbody.body, env, site)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                value = self.expr(item.item, env, site)
                if item.asname is not None:
                    self.assign(item.asname.name, UNKNOWN if value.kind != "model" else value, env, site)
            self.suite(stmt.body, env, site)
        elif isinstance(stmt, cst.Match):
            self.expr(stmt.subject, env, site)
            self._branches(env, site, [None, *[c.body for c in stmt.cases]])

    def _unsure(self, test: Value, site: Site) -> bool:
        """An `if` whose test is a parameter whose value no call here gives (`if dropout_rate:`,
        `if rate > 0`, `if cfg.dropout`, also through the callers that handed it on), unless the
        function runs on its own and the parameter's default takes the branch."""
        param = test.node if test.kind == "unknown" and isinstance(test.node, cst.Param) else None
        if param is None:
            return False
        fn = site.function
        mine = isinstance(fn, cst.FunctionDef) and any(
            q is param for q in (*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params))
        return not (mine and self._default_truth(site, param.name.value))

    def _param_test(self, test: cst.BaseExpression, site: Site) -> str | None:
        """The parameter of the current function that an `if` test names, else None (`self` and
        the names of its attributes do not count)."""
        fn = site.function
        if not isinstance(fn, cst.FunctionDef):
            return None
        names = _param_names(fn)
        if site.cls is not None:
            names.discard("self")
        attrs: set[int] = set()  # `x.rate`: `rate` is an attribute, not the parameter
        for node in self.flow.walk(test):
            if isinstance(node, cst.Attribute):
                attrs.add(id(node.attr))
            elif isinstance(node, cst.Name) and node.value in names and id(node) not in attrs:
                return node.value
        return None

    def _default_truth(self, site: Site, param: str) -> bool:
        """A function run on its own (no call in the file) whose `param` defaults to a true constant."""
        fn = site.function
        if site.caller is not None or not isinstance(fn, cst.FunctionDef):
            return False
        p = fn.params
        q = next((q for q in (*p.posonly_params, *p.params, *p.kwonly_params) if q.name.value == param), None)
        if q is None or q.default is None:
            return False
        value = self.flow.constant(q.default, self.names.scope_of(fn).parent or self.names.root)
        try:
            return value is not NOT_CONSTANT and bool(value)
        except Exception:  # noqa: BLE001
            return False

    def _deciding_call(self, site: Site, param: str) -> cst.Call | None:
        """The call whose argument gave `param` its value, following parameters handed on by the
        callers (`stage(x, rate=0.3)` -> `block(x, rate)`), or the call that left it at its default."""
        current, name, found = site, param, None
        while current.caller is not None and isinstance(current.function, cst.FunctionDef):
            found = current.caller
            expr = _argument(current.caller, current.function, name)
            outer = current.outer
            if not (isinstance(expr, cst.Name) and outer is not None and outer.caller is not None
                    and isinstance(outer.function, cst.FunctionDef) and expr.value in _param_names(outer.function)):
                break
            current, name = outer, expr.value
        return found

    def _guarded(self, suite, env: _Env, site: Site) -> None:
        try:
            self.suite(suite, env, site)
        except _Return:
            pass

    def _branches(self, env: _Env, site: Site, suites) -> None:
        results = []
        for suite in suites:
            branch = env.copy()
            if isinstance(suite, cst.If):  # elif
                try:
                    self.compound(suite, branch, site)
                except _Return:
                    continue
            elif isinstance(suite, cst.Else):
                try:
                    self.suite(suite.body, branch, site)
                except _Return:
                    continue
            elif suite is not None:
                try:
                    self.suite(suite, branch, site)
                except _Return:
                    continue
            results.append(branch)
        if results:
            env.join(results)
        else:
            raise _Return

    def _for(self, stmt: cst.For, env: _Env, site: Site) -> None:
        iterable = self.expr(stmt.iter, env, site)
        items: list[Value] | None = None
        repeat = 1
        seq = self._seq_items(iterable, env)
        if seq is not None and 0 < len(seq) <= MAX_UNROLL:
            items = seq
        elif _is_range_call(stmt.iter):
            count = _range_count(stmt.iter)
            repeat = 2 if count is not None and count >= 2 else 1
        self.inexact += items is None
        try:
            for i in range(len(items) if items is not None else repeat):
                self.assign(stmt.target, items[i] if items is not None else UNKNOWN, env, site)
                try:
                    self.suite(stmt.body, env, site)
                except _Return:
                    break
        finally:
            self.inexact -= items is None
        if stmt.orelse is not None:
            self._guarded(stmt.orelse.body, env, site)

    def assign(self, target, value: Value, env: _Env, site: Site) -> None:
        if isinstance(target, cst.Name):
            if value.kind in ("tensor", "layer", "const") and value.label is None:
                value = _relabel(value, target.value)
            env.vars[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = [el.value for el in target.elements]
            items = self._seq_items(value, env)
            exact = items is not None and len(items) == len(elements) and not any(
                isinstance(e, cst.StarredElement) for e in elements)
            for i, el in enumerate(elements):
                if exact:
                    sub = items[i]
                elif value.kt and not isinstance(el, cst.StarredElement):
                    # Unpacking a symbolic multi-output layer gives KerasTensors.
                    sub = Value("tensor", node=value.node, kt=True, app=value.app, root=value.origin())
                else:
                    sub = UNKNOWN
                self.assign(el.value if isinstance(el, cst.StarredElement) else el, sub, env, site)
        elif isinstance(target, cst.Attribute):
            if self._is_self(target.value):
                self.self_attrs[target.attr.value] = value
        elif isinstance(target, cst.Subscript):
            base = self.expr(target.value, env, site)
            if base.kind in ("seq", "dict") and base.oid is not None:
                env.heap[base.oid] = None

    # -- expressions -----------------------------------------------------------

    def expr(self, node, env: _Env, site: Site) -> Value:
        if node is None:
            return UNKNOWN
        # Dispatch on the exact type: libcst's node classes are final, and an isinstance chain
        # goes through ABCMeta for each test (measured: a third of the interpreter's time).
        handler = _EXPR.get(type(node))
        return handler(self, node, env, site) if handler is not None else UNKNOWN

    def _expr_attribute(self, node, env: _Env, site: Site) -> Value:
        if self._is_self(node.value):
            return self.self_attrs.get(node.attr.value, UNKNOWN)
        base = self.expr(node.value, env, site)
        if base.kind == "ref" and base.canon is not None:
            return self._ref(node, site)
        if base.kind == "unknown" and type(base.node) is cst.Param:
            return base  # `cfg.dropout` of a parameter: still what the caller gives
        if base.kind == "model" and node.attr.value in MODEL_TENSORS:
            # `model.output`, `model.inputs`, `model.get_layer(...).output`: the model's
            # symbolic tensors (a list of them for the plural forms, read as KerasTensors).
            return Value("tensor", node=node, kt=True, canon=base.canon, root=node)
        return UNKNOWN

    def _expr_literal(self, node, env: _Env, site: Site) -> Value:
        lit = literal_value(node)
        return Value("literal", node=node, lit=lit) if lit is not NOT_CONSTANT else UNKNOWN

    def _expr_sequence(self, node, env: _Env, site: Site) -> Value:
        items = []
        exact = True
        for el in node.elements:
            if type(el) is cst.StarredElement:
                inner = self._seq_items(self.expr(el.value, env, site), env)
                if inner is None:
                    exact = False
                else:
                    items.extend(inner)
            else:
                items.append(self.expr(el.value, env, site))
        return self._new_seq(items if exact else None, env, node)

    def _expr_binary(self, node, env: _Env, site: Site) -> Value:
        left = self.expr(node.left, env, site)
        right = self.expr(node.right, env, site)
        return self._binop(node, left, right, env, site, node.operator)

    def _expr_unary(self, node, env: _Env, site: Site) -> Value:
        inner = self.expr(node.expression, env, site)
        if inner.kt:
            return Value("tensor", node=node, kt=True, root=inner.origin())
        if inner.kind == "unknown" and type(inner.node) is cst.Param:
            return inner  # `not use_dropout`
        if inner.kind == "literal" or inner.kind == "union":
            truth = inner.truth() if type(node.operator) is cst.Not else None
            if truth is not None:
                return Value("literal", node=node, lit=not truth)
            lit = literal_value(node)
            if lit is not NOT_CONSTANT:
                return Value("literal", node=node, lit=lit)
        return UNKNOWN

    def _expr_subscript(self, node, env: _Env, site: Site) -> Value:
        base = self.expr(node.value, env, site)
        for el in node.slice:
            if type(el.slice) is cst.Index:
                self.expr(el.slice.value, env, site)
        if base.kt:
            return Value("tensor", node=node, kt=True, app=base.app, root=base.origin())
        one = len(node.slice) == 1 and type(node.slice[0].slice) is cst.Index
        items = self._seq_items(base, env)
        if items is not None and one:
            index = literal_number(node.slice[0].slice.value)
            if index is not None and index == int(index) and -len(items) <= index < len(items):
                return items[int(index)]
        if base.kind == "dict" and one:
            key = literal_string(node.slice[0].slice.value)
            state = env.heap.get(base.oid) if base.oid is not None else None
            if key is not None and isinstance(state, dict) and key in state:
                return state[key]
        return UNKNOWN

    def _expr_ifexp(self, node, env: _Env, site: Site) -> Value:
        test = self.expr(node.test, env, site)
        truth = test.truth()
        if truth is True:
            return self.expr(node.body, env, site)
        if truth is False:
            return self.expr(node.orelse, env, site)
        unsure = self._unsure(test, site)
        self.conditional += unsure
        try:
            return union([self.expr(node.body, env, site), self.expr(node.orelse, env, site)])
        finally:
            self.conditional -= unsure

    def _expr_walrus(self, node, env: _Env, site: Site) -> Value:
        value = self.expr(node.value, env, site)
        self.assign(node.target, value, env, site)
        return value

    def _expr_await(self, node, env: _Env, site: Site) -> Value:
        return self.expr(node.expression, env, site)

    def _expr_test(self, node, env: _Env, site: Site) -> Value:
        if type(node) is cst.BooleanOperation:
            operands = [self.expr(node.left, env, site), self.expr(node.right, env, site)]
        else:
            operands = [self.expr(node.left, env, site)]
            for comp in node.comparisons:
                operands.append(self.expr(comp.comparator, env, site))
        # `rate > 0`, `use_bn and rate`: unknown, but known to come from a parameter.
        return next((v for v in operands if v.kind == "unknown" and type(v.node) is cst.Param), UNKNOWN)

    def _dict(self, node: cst.Dict, env: _Env, site: Site) -> Value:
        state: dict[str, Value] | None = {}
        keys = []
        values = []
        for el in node.elements:
            if isinstance(el, cst.DictElement):
                value = self.expr(el.value, env, site)
                key = literal_string(el.key)
                values.append(value)
                if key is None or state is None:
                    state = None
                else:
                    state[key] = value
                    keys.append((key, el.value))
            else:  # `**other`
                self.expr(el.value, env, site)
                state = None
        oid = next(self.oids)
        env.heap[oid] = state
        return Value("dict", node=node, oid=oid, items=tuple(values), keys=tuple(keys) if state is not None else ())

    def _lambda(self, node: cst.Lambda, env: _Env, site: Site) -> Value:
        """Evaluate a lambda's body once, where it is written, with its parameters unknown: the
        calls in it are recorded (a `Lambda(lambda t: tf.nn.dropout(t, .5))`), at a site of its own."""
        inner = _Env(dict(env.vars), env.heap)
        p = node.params
        for param in (*p.posonly_params, *p.params, *p.kwonly_params):
            inner.vars[param.name.value] = Value("unknown", node=param, label=param.name.value)
        for param in (p.star_arg, p.star_kwarg):
            if isinstance(param, cst.Param):
                inner.vars[param.name.value] = UNKNOWN
        lam_site = Site(node, site.cls, site.in_call, site.scope, site.entry, None, site, site.flags, site.origin)
        self.expr(node.body, inner, lam_site)
        return Value("func", node=node, func=node)

    def _comprehension(self, node, env: _Env, site: Site) -> Value:
        """`[f(t) for t in items]`: the element is evaluated once per item of a known
        sequence (like an unrolled loop), else once with the target unknown. A list
        comprehension with one `for` and no `if` over a known sequence gives a known list."""
        comp = node.for_in
        items = self._seq_items(self.expr(comp.iter, env, site), env)
        if items is None or not 0 < len(items) <= MAX_UNROLL:
            items = None
        inner = _Env(dict(env.vars), env.heap)  # the comprehension's own scope
        results = []
        self.inexact += items is None
        for item in items if items is not None else [UNKNOWN]:
            self.assign(comp.target, item, inner, site)
            for cond in comp.ifs:
                self.expr(cond.test, inner, site)
            more = comp.inner_for_in
            while more is not None:
                self.expr(more.iter, inner, site)
                self.assign(more.target, UNKNOWN, inner, site)
                for cond in more.ifs:
                    self.expr(cond.test, inner, site)
                more = more.inner_for_in
            results.append(self.expr(node.elt, inner, site))
        self.inexact -= items is None
        exact = (items is not None and isinstance(node, cst.ListComp) and not comp.ifs
                 and comp.inner_for_in is None)
        return self._new_seq(results, env, node) if exact else UNKNOWN

    def _name(self, node: cst.Name, env: _Env, site: Site) -> Value:
        name = node.value
        if name in env.vars:
            return env.vars[name]
        if name in ("True", "False", "None"):
            return Value("literal", node=node, lit=literal_value(node))
        module_vars = self._module_env.vars if self._module_env is not None else self.globals
        if site.function is not None and site.origin is None and name in module_vars and not self._is_local(name, site):
            return module_vars[name]
        return self._ref(node, site)

    def _is_local(self, name: str, site: Site) -> bool:
        scope = site.scope
        return scope is not None and scope.kind == "function" and name in scope.bindings

    def _ref(self, node, site: Site) -> Value:
        names = site.origin.names if site.origin is not None else self.names
        canon = names.resolve(node, site.scope or names.root)
        if canon is None:
            return UNKNOWN
        if site.origin is None:
            self.pic.references.add(canon.name)
        if canon.flavor is None and self.pic.project is not None:  # a constant of another module
            sym = self.pic.project.symbol(canon.name)
            if sym is not None and sym.kind == "const":
                return Value("literal", node=node, lit=sym.value)
        return Value("ref", node=node, canon=canon)

    def _scope(self, fn: cst.CSTNode) -> Scope:
        return self.pic.names_for(fn).scope_of(fn)

    def _new_seq(self, items: list[Value] | None, env: _Env, node) -> Value:
        oid = next(self.oids)
        env.heap[oid] = tuple(items) if items is not None else None
        return Value("seq", node=node, oid=oid, items=tuple(items) if items is not None else ())

    def _seq_items(self, value: Value, env: _Env) -> list[Value] | None:
        if value.kind != "seq":
            return None
        if value.oid is not None:
            state = env.heap.get(value.oid, value.items if value.oid not in env.heap else None)
            return list(state) if state is not None else None
        return list(value.items)

    def _binop(self, node, left: Value, right: Value, env: _Env, site: Site, op) -> Value:
        if isinstance(op, (cst.Add, cst.AddAssign)):
            a, b = self._seq_items(left, env), self._seq_items(right, env)
            if left.kind == "seq" and right.kind == "seq":
                return self._new_seq(a + b if a is not None and b is not None else None, env, node)
        if isinstance(op, (cst.Multiply, cst.MultiplyAssign)):
            for seq, num in ((left, right), (right, left)):
                if seq.kind == "seq":
                    items = self._seq_items(seq, env)
                    count = literal_number(_num_node(node, num is right))
                    if items is not None and count is not None and count == int(count) and len(items) * count <= 4 * MAX_UNROLL:
                        return self._new_seq(items * int(count), env, node)
                    return self._new_seq(None, env, node)
        if isinstance(node, cst.BinaryOperation):
            self.pic.binops.append(BinOpEvent(node, left, right, site))
        if left.kt or (right.kt and not (left.kind == "const" and left.lib == "numpy")):
            return Value("tensor", node=node, kt=True, root=(left if left.kt else right).origin())
        if left.kind == "literal" and right.kind == "literal":
            lit = fold(op, left.lit, right.lit)
            if lit is not NOT_CONSTANT:
                return Value("literal", node=node, lit=lit)
        return UNKNOWN

    # -- calls -------------------------------------------------------------------

    def _args(self, call: cst.Call, env: _Env, site: Site) -> tuple[tuple[Value, ...], tuple[tuple[str, Value], ...]]:
        args, kwargs = [], []
        for arg in call.args:
            value = self.expr(arg.value, env, site)
            if arg.keyword is not None:
                kwargs.append((arg.keyword.value, value))
            elif arg.star == "*":
                items = self._seq_items(value, env)
                args.extend(items if items is not None else [UNKNOWN])
            elif not arg.star:
                args.append(value)
        return tuple(args), tuple(kwargs)

    def _symbolic(self, values, env: _Env, depth: int = 0) -> list[Value]:
        """The KerasTensors among `values` or among the items of a list or tuple among them:
        `Concatenate()([a, b])` and `keras.ops.stack([a, b])` are symbolic calls too."""
        found = []
        for v in values:
            if v.kt:
                found.append(v)
            elif v.kind == "seq" and depth < 2:
                items = self._seq_items(v, env)
                if items is not None:
                    found.extend(self._symbolic(items, env, depth + 1))
        return found

    def _snapshot(self, values, env: _Env, depth: int = 0, states: dict | None = None) -> Snapshot:
        """The heap states of `values` and of the lists and dicts inside them (two levels)."""
        states = {} if states is None else states
        for value in values:
            for alt in value.alternatives():
                if alt.oid is None or alt.oid in states or alt.kind not in ("model", "seq", "dict"):
                    continue
                if alt.oid in env.heap:
                    state = env.heap[alt.oid]
                else:  # a list made where this heap did not reach: as it was made
                    state = tuple(alt.items) if alt.kind == "seq" else None
                states[alt.oid] = state
                if depth < 2 and isinstance(state, tuple):
                    self._snapshot(state, env, depth + 1, states)
                elif depth < 2 and isinstance(state, dict):
                    self._snapshot(list(state.values()), env, depth + 1, states)
        return Snapshot(states)

    def _is_self(self, node) -> bool:
        return (self.self_name is not None and self.self_attrs is not None
                and isinstance(node, cst.Name) and node.value == self.self_name)

    def call(self, call: cst.Call, env: _Env, site: Site) -> Value:
        func = call.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if self._is_self(func.value):
                target = self.self_attrs.get(method)
                if target is not None:
                    return self._call_value(target, call, env, site)
                if site.cls is not None and method in site.cls.methods:
                    return self._inline(site.cls.methods[method], call, env, site, bound=True)
                args, kwargs = self._args(call, env, site)
                receiver = Value("self", node=func.value, cls=site.cls)
                self.pic.methods.append(MethodCallEvent(method, receiver, call, args, kwargs, site))
                if method == "add_weight":  # a weight: `self.w.assign(...)` later is a method call on it
                    return Value("weight", node=call)
                return UNKNOWN
            owner = self.expr(func.value, env, site)
            if owner.kind == "ref":
                return self._call_value(self._ref(func, site), call, env, site)
            args, kwargs = self._args(call, env, site)
            state = Snapshot()
            if any(alt.kind in ("model", "layer") for alt in owner.alternatives()):
                state = self._snapshot([owner, *args, *(v for _, v in kwargs)], env)
            self.pic.methods.append(MethodCallEvent(method, owner, call, args, kwargs, site, state))
            if owner.kind == "model" and method == "get_layer":  # a layer of a built model: has `.output`
                return Value("model", node=call, canon=owner.canon, label="get_layer")
            if owner.kind == "model" and owner.oid is not None and method in ("add", "pop"):
                if method == "pop":  # the last layer is gone: what the next one reads is unknown
                    env.heap[owner.oid] = _SeqState(UNKNOWN, None, frozenset())
                elif args:
                    self._seq_add(owner.oid, args[0], call, "add", env, site)
                return UNKNOWN
            if owner.kind == "seq" and owner.oid is not None:
                items = self._seq_items(owner, env)
                extra = None
                if items is not None and not kwargs:
                    if method == "append" and len(args) == 1:
                        extra = items + [args[0]]
                    elif method == "extend" and len(args) == 1:
                        more = self._seq_items(args[0], env)
                        extra = items + more if more is not None else None
                    elif method == "insert" and len(args) == 2:
                        index = literal_number(call_arg(call, "", 0))
                        if index is not None and index == int(index):
                            extra = list(items)
                            extra.insert(int(index), args[1])
                # pop, sort, remove, ...: the list is no longer known exactly.
                env.heap[owner.oid] = tuple(extra) if extra is not None else None
                return UNKNOWN
            if owner.kind == "dict" and owner.oid is not None and method not in ("get", "keys", "values", "items", "copy"):
                env.heap[owner.oid] = None  # update/pop/setdefault: no longer known exactly
            # Methods of other objects (`x.numpy()`, `model.fit(...)`) are opaque.
            if owner.kind not in ("model", "layer", "seq", "dict"):
                self._escape([*args, *(v for _, v in kwargs)], env)
            return UNKNOWN
        return self._call_value(self.expr(func, env, site), call, env, site)

    def _call_value(self, callee: Value, call: cst.Call, env: _Env, site: Site) -> Value:
        if callee.kind == "ref" and callee.canon is not None:
            return self._call_ref(callee.canon, call, env, site)
        if callee.kind == "layer" and callee.layer is not None:
            args, kwargs = self._args(call, env, site)
            inputs = args[:1] if args else tuple(v for k, v in kwargs if k == "inputs")
            via = "subclass" if site.cls is not None else "functional"
            app = Apply(callee.layer, inputs, call, via, site, call=call, conditional=self.conditional > 0,
                        decided=self.decided[0] if self.decided else None, looped=self.inexact > 0)
            self.pic.applies.append(app)
            kt = bool(self._symbolic([*args, *(v for _, v in kwargs)], env))
            return Value("tensor", node=call, app=app, kt=kt)
        if callee.kind == "model":
            args, kwargs = self._args(call, env, site)
            kt = bool(self._symbolic(args, env))
            return Value("tensor", node=call, kt=kt, canon=callee.canon, root=call if kt else None)
        if callee.kind == "func" and isinstance(callee.func, cst.FunctionDef):
            return self._inline(callee.func, call, env, site)
        if callee.kind == "class":
            args, kwargs = self._args(call, env, site)
            if callee.cls is not None and callee.cls.kind in ("layer", "model"):
                canon = Canon(f"<local>.{callee.cls.name}", "local")
                layer = LayerDef(canon, call, site)
                self.pic.instances.append(layer)
                return Value("layer", node=call, layer=layer, cls=callee.cls)
            return UNKNOWN
        if callee.kind == "union":
            # A layer chosen between branches: apply each alternative.
            if all(alt.kind == "layer" for alt in callee.items):
                return union([self._call_value(alt, call, env, site) for alt in callee.items])
        args, kwargs = self._args(call, env, site)
        if not (isinstance(call.func, cst.Name) and call.func.value in _BUILTINS):
            self._escape([*args, *(v for _, v in kwargs)], env)
        return UNKNOWN

    def _escape(self, values, env: _Env) -> None:
        """A Sequential model handed to code the picture does not follow may get layers there:
        from then on, what its layers output is not known."""
        for value in values:
            for alt in value.alternatives():
                state = env.heap.get(alt.oid) if alt.kind == "model" and alt.oid is not None else None
                if isinstance(state, _SeqState):
                    env.heap[alt.oid] = _SeqState(UNKNOWN, None, state.added)

    def _layer_kwargs(self, call: cst.Call, env: _Env, site: Site) -> tuple[tuple[tuple[str, cst.BaseExpression], ...], bool]:
        """What `**d` / `*a` arguments of a layer construction give: (known keywords, opaque)."""
        extra: list[tuple[str, cst.BaseExpression]] = []
        opaque = False
        for arg in call.args:
            if arg.star == "**":
                value = self.expr(arg.value, env, site)
                # A dict chosen between branches (`{...} if convex else {}`): the keys some
                # alternative gives, each with its one expression (a key whose expression
                # differs between the alternatives makes the call opaque).
                merged: dict[str, cst.BaseExpression] = {}
                for alt in value.alternatives():
                    state = env.heap.get(alt.oid) if alt.kind == "dict" and alt.oid is not None else None
                    if not (isinstance(state, dict) and len(alt.keys) == len(state)):
                        opaque = True
                        break
                    for key, expr in alt.keys:
                        if merged.setdefault(key, expr) is not expr:
                            opaque = True
                extra.extend(merged.items())
            elif arg.star == "*":
                opaque = True
        return tuple(extra), opaque

    def _call_ref(self, canon: Canon, call: cst.Call, env: _Env, site: Site) -> Value:
        name = canon.name
        if canon.flavor is None and self.pic.project is not None:
            sym = self.pic.project.symbol(name)
            if sym is not None and sym.kind in ("def", "class"):
                return self._call_project(sym, call, env, site)
        if canon.flavor is not None:
            if name == "keras.Sequential":
                return self._sequential(canon, call, env, site)
            if name in ("keras.Input", "keras.InputLayer"):
                # An `InputLayer(...)` stands for its tensor: it is what a Sequential list starts with.
                args, kwargs = self._args(call, env, site)
                if name == "keras.InputLayer":
                    self.pic.calls.append(CallEvent(canon, call, args, kwargs, site))  # as for any call
                source = LayerDef(canon, call, site, values=_values(call, args, kwargs))
                return Value("tensor", node=call, kt=True, canon=canon, layer=source)
            if name in MODEL_MAKERS or (name.startswith("keras.applications.") and canon.short[:1].isupper()):
                # A Keras application (`MobileNetV2(include_top=False)`) or a loaded model: a
                # built model, whose call on a KerasTensor and whose `.output` are KerasTensors.
                self._args(call, env, site)
                return Value("model", node=call, canon=canon)
            if name in ("keras.Model", "keras.Functional"):
                args, kwargs = self._args(call, env, site)
                kw = dict(kwargs)
                inputs = kw.get("inputs", args[0] if args else None)
                outputs = kw.get("outputs", args[1] if len(args) > 1 else None)
                state = self._snapshot([outputs], env) if outputs is not None else Snapshot()
                self.pic.models.append(ModelEvent(canon, call, inputs, outputs, site, state))
                return Value("model", node=call, canon=canon)
            if name.startswith("keras.layers.") and canon.short[:1].isupper() and canon.short not in NOT_LAYERS:
                extra, opaque = (), False
                if any(a.star for a in call.args):
                    extra, opaque = self._layer_kwargs(call, env, site)
                args, kwargs = self._args(call, env, site)
                layer = LayerDef(canon, call, site, extra, opaque, _values(call, args, kwargs))
                self.pic.layers.append(layer)
                if canon.short == "Lambda":
                    self.pic.lambdas.append(layer)
                return Value("layer", node=call, layer=layer)
        args, kwargs = self._args(call, env, site)
        if canon.flavor is None and canon.name.split(".", 1)[0] not in ("tensorflow", "numpy"):
            self._escape([*args, *(v for _, v in kwargs)], env)
        symbolic = tuple(self._symbolic([*args, *(v for _, v in kwargs)], env))
        self.pic.calls.append(CallEvent(canon, call, args, kwargs, site, symbolic))
        kt = bool(symbolic)
        root = symbolic[0].origin() if symbolic else None
        if canon.flavor is not None and (name in MODEL_FUNCTIONS or (
                name.startswith("keras.applications.") and canon.short[:1].isupper())):
            return Value("model", node=call, canon=canon)
        if canon.flavor is not None and name.startswith(("keras.ops.", "keras.activations.", "keras.random.",
                                                         "keras.applications.")):
            return Value("tensor", node=call, kt=kt, canon=canon, root=root)
        if name.startswith(("keras.losses.", "keras.metrics.", "tensorflow.losses.", "tensorflow.metrics.")) \
                and canon.short[:1].isupper():
            return Value("object", node=call, canon=canon)  # `keras.losses.Huber()`: followed to `compile`
        if kt and canon.flavor is None and name.startswith("tensorflow."):
            # A TF op on a KerasTensor: legacy Keras wraps it into a layer and returns a
            # KerasTensor; Keras 3 raises, and the fixed code (keras.ops, a layer) gives one.
            return Value("tensor", node=call, kt=True, canon=canon, root=root)
        if not kt:
            root = name.split(".", 1)[0]
            if root == "numpy":
                return Value("const", node=call, canon=canon, lib="numpy")
            if root == "tensorflow":
                return Value("const", node=call, canon=canon, lib="tf")
        return UNKNOWN

    def _call_project(self, sym, call: cst.Call, env: _Env, site: Site) -> Value:
        """A call of a function or class another module of the project defines: the function is
        run with the call's values (its definition loaded for this call, like a same-file helper),
        or, past the inlining depth or when it uses no Keras, TensorFlow or NumPy, what the index
        says it returns; a Keras layer or model class gives a layer."""
        index = self.pic.project.index
        if sym.kind == "class":
            self._args(call, env, site)
            kind = index.class_kind(sym)
            if kind is not None and kind[0] in ("layer", "model"):
                layer = LayerDef(Canon(f"<local>.{sym.name}", "local"), call, site)
                cls = self._foreign_model(sym, call, site) if kind[0] == "model" else None
                return Value("layer", node=call, layer=layer, cls=cls)
            return UNKNOWN
        if index.touches(sym) and self.depth < MAX_INLINE_DEPTH and self.budget >= 0:
            anchor = site.origin.anchor if site.origin is not None else call
            entry = self.pic.loaded.get(self.pic.project, sym, anchor)
            if entry is not None and isinstance(entry.node, cst.FunctionDef):
                return self._inline(entry.node, call, env, site)
        args, kwargs = self._args(call, env, site)
        if any(a.star for a in call.args):
            return UNKNOWN
        given = {}
        positional = [p[0] for p in sym.info.get("params", ()) if p[1] == "pos"]
        for name, value in [*zip(positional, args), *kwargs]:
            given[name] = _summary_of(value)
        return self._from_summary(index.returns(sym, given), call, env)

    def _foreign_model(self, sym, call: cst.Call, site: Site) -> KerasClass | None:
        """A Keras Model subclass of another module, instantiated here: its definition loaded
        for this call and run like the file's own classes (its `call()` output is what `compile`
        pairs with a loss). None past the inlining depth, or when it cannot be loaded."""
        if self.depth >= MAX_INLINE_DEPTH or self.budget < 0:
            return None
        anchor = site.origin.anchor if site.origin is not None else call
        entry = self.pic.loaded.get(self.pic.project, sym, anchor)
        if entry is None or not isinstance(entry.node, cst.ClassDef):
            return None
        kc = self.pic.class_of(entry.node)
        if kc is None:
            kc = _foreign_class(self.pic, entry, sym, anchor)
            if kc is None:
                return None
            self.pic.foreign_classes.append(kc)
            self.depth += 1
            try:
                self._run_class(kc)
            finally:
                self.depth -= 1
        return kc

    def _from_summary(self, got, call: cst.Call, env: _Env, depth: int = 0) -> Value:
        """What the index says a call returns, as a value of this picture (no layer applications:
        their layers are not known here)."""
        if got.kind == "tensor":
            return Value("tensor", node=call, kt=got.kt)
        if got.kind == "model":
            return Value("model", node=call)
        if got.kind == "literal":
            return Value("literal", node=call, lit=got.lit)
        if got.kind == "const":
            return Value("const", node=call, lib=got.lib)
        if got.kind == "seq" and depth < 2:
            return self._new_seq([self._from_summary(i, call, env, depth + 1) for i in got.items], env, call)
        return UNKNOWN

    def _sequential(self, canon: Canon, call: cst.Call, env: _Env, site: Site) -> Value:
        args, kwargs = self._args(call, env, site)
        self.pic.calls.append(CallEvent(canon, call, args, kwargs, site))
        oid = next(self.oids)
        env.heap[oid] = _SeqState(_START, None, frozenset())
        self.pic.sequentials[oid] = call
        model = Value("model", node=call, canon=canon, oid=oid)
        layers = dict(kwargs).get("layers", args[0] if args else None)
        if layers is not None:
            items = self._seq_items(layers, env)
            if items is None:
                return model
            for item in items:
                self._seq_add(oid, item, item.node or call, "sequential", env, site)
        return model

    def _seq_add(self, oid: int, item: Value, node, via: str, env: _Env, site: Site) -> None:
        state = env.heap.get(oid)
        if not isinstance(state, _SeqState):
            return
        if item.kind == "layer" and item.layer is not None:
            adjacent = state.last_layer is not None and via == "sequential"
            repeat = id(item.layer) in state.added
            app = Apply(item.layer, (state.last,), node, via, site, adjacent=adjacent, repeat=repeat, model=oid,
                        first=state.last is _START, looped=self.inexact > 0,
                        conditional=self.conditional > 0, decided=self.decided[0] if self.decided else None)
            self.pic.applies.append(app)
            env.heap[oid] = _SeqState(Value("tensor", node=node, app=app), item.layer,
                                      state.added | {id(item.layer)})
        elif item.kind == "tensor" and item.kt:  # keras.Input(...) as the first element
            env.heap[oid] = _SeqState(item, None, state.added)
        else:
            env.heap[oid] = _SeqState(UNKNOWN, None, state.added)

    def _inline(self, fn: cst.FunctionDef, call: cst.Call, env: _Env, site: Site, bound: bool = False) -> Value:
        args, kwargs = self._args(call, env, site)
        if self.depth >= MAX_INLINE_DEPTH or self.budget < 0:
            self._escape([*args, *(v for _, v in kwargs)], env)
            return UNKNOWN
        if not bound:
            self.functions_run.add(id(fn))
        params = [*fn.params.posonly_params, *fn.params.params]
        if bound and params:
            params = params[1:]
        callee_env = _Env(heap=env.heap)
        for p in [*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params]:
            callee_env.vars[p.name.value] = Value("unknown", node=p, label=p.name.value)
        given: dict[str, cst.BaseExpression] = {}
        positional = [a for a in call.args if a.keyword is None and not a.star]
        exact = not any(a.star for a in call.args)
        for p, v, a in zip(params, args, positional):
            callee_env.vars[p.name.value] = v
            given[p.name.value] = a.value
        kw = dict(kwargs)
        for p in [*params, *fn.params.kwonly_params]:
            if p.name.value in kw:
                callee_env.vars[p.name.value] = kw[p.name.value]
                given[p.name.value] = call_arg(call, p.name.value, None)
            elif p.name.value not in given and exact and p.default is not None:
                # Left out by the call: the default (`def block(x, rate=0)` called as `block(x)`).
                callee_env.vars[p.name.value] = self._default(p.default, fn)
        flags = TRAINING
        if site.in_call:  # only code that call() reaches gates on the flag it is handed
            flags = frozenset(
                name for name, expr in given.items()
                if expr is not None and self.pic.flow_for(expr).mentions_phase(expr, site.flags)) | TRAINING
        callee_site = Site(fn, site.cls if bound else None, site.in_call, self._scope(fn), site.entry,
                           call, site, flags, self.pic.entry_of(fn))
        self.depth += 1
        try:
            if bound:
                result = self._exec_function(fn, callee_env, callee_site, self_attrs=self.self_attrs)
            else:
                saved = (self.self_name, self.self_attrs)
                self.self_name, self.self_attrs = None, None
                try:
                    result = self._exec_function(fn, callee_env, callee_site)
                finally:
                    self.self_name, self.self_attrs = saved
        finally:
            self.depth -= 1
        env.heap.update(callee_env.heap)
        return result

    def _default(self, expr: cst.BaseExpression, fn: cst.FunctionDef) -> Value:
        """A parameter's default, as a value (literals and constants only: defaults are
        evaluated once, in the scope around the function)."""
        scope = self._scope(fn)
        lit = self.pic.flow_for(fn).constant(expr, scope.parent or scope)
        return Value("literal", node=expr, lit=lit) if lit is not NOT_CONSTANT else UNKNOWN


def _summary_of(value: Value):
    """An argument's value as the index's summaries take it."""
    from kerascheck.project import UNKNOWN as NOTHING
    from kerascheck.project import Summary

    if value.kt:
        return Summary("tensor", kt=True)
    if value.kind == "literal":
        return Summary("literal", lit=value.lit)
    if value.kind == "model":
        return Summary("model")
    if value.kind == "layer" and value.layer is not None:
        return Summary("layer", layer=value.layer.name)
    return NOTHING


def _param_names(fn: cst.FunctionDef) -> set[str]:
    p = fn.params
    return {q.name.value for q in (*p.posonly_params, *p.params, *p.kwonly_params)}


def _argument(call: cst.Call, fn: cst.FunctionDef, param: str) -> cst.BaseExpression | None:
    """What `call` gives parameter `param` of `fn` (None: left at its default, or not known)."""
    params = [*fn.params.posonly_params, *fn.params.params]
    if isinstance(call.func, cst.Attribute) and params and params[0].name.value in ("self", "cls"):
        params = params[1:]
    index = next((i for i, q in enumerate(params) if q.name.value == param), None)
    return call_arg(call, param, index)


_EXPR = {
    cst.Name: lambda self, node, env, site: self._name(node, env, site),
    cst.Attribute: _Interpreter._expr_attribute,
    cst.Call: lambda self, node, env, site: self.call(node, env, site),
    **dict.fromkeys((cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString), _Interpreter._expr_literal),
    **dict.fromkeys((cst.List, cst.Tuple), _Interpreter._expr_sequence),
    cst.BinaryOperation: _Interpreter._expr_binary,
    cst.UnaryOperation: _Interpreter._expr_unary,
    cst.Subscript: _Interpreter._expr_subscript,
    cst.IfExp: _Interpreter._expr_ifexp,
    cst.NamedExpr: _Interpreter._expr_walrus,
    cst.Await: _Interpreter._expr_await,
    **dict.fromkeys((cst.BooleanOperation, cst.Comparison), _Interpreter._expr_test),
    cst.Dict: lambda self, node, env, site: self._dict(node, env, site),
    **dict.fromkeys((cst.ListComp, cst.GeneratorExp, cst.SetComp),
                    lambda self, node, env, site: self._comprehension(node, env, site)),
    cst.Lambda: lambda self, node, env, site: self._lambda(node, env, site),
}


def _suite_body(suite) -> list:
    return list(suite.body) if isinstance(suite, cst.IndentedBlock) else []


def _flatten_targets(target) -> Iterator[cst.BaseExpression]:
    if isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from _flatten_targets(el.value)
    else:
        yield target


def _values(call: cst.Call, args, kwargs) -> tuple[tuple[int | str, Value], ...]:
    """A call's argument values by position and keyword; positions only when no `*args` hides them."""
    positional = () if any(a.star == "*" for a in call.args) else tuple(enumerate(args))
    return (*positional, *kwargs)


def _relabel(value: Value, label: str) -> Value:
    return Value(value.kind, value.node, value.canon, value.layer, value.app, value.items,
                 value.kt, value.lib, value.oid, value.func, value.cls, label, value.lit, value.keys, value.root)


def _is_range_call(expr) -> bool:
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "range"


def _range_count(expr: cst.Call) -> int | None:
    nums = [literal_number(a.value) for a in expr.args]
    if any(n is None for n in nums) or not nums or len(nums) > 3:
        return None
    if len(nums) == 1:
        return int(nums[0])
    step = nums[2] if len(nums) == 3 else 1
    if step <= 0:
        return None
    return max(0, int((nums[1] - nums[0] + step - 1) // step))


def _num_node(node, right_is_num: bool):
    if isinstance(node, cst.BinaryOperation):
        return node.right if right_is_num else node.left
    if isinstance(node, cst.AugAssign):
        return node.value
    return None


def build(module: cst.Module, names: Names, text: str | None = None, project=None) -> Picture:
    """The picture of one parsed module; `project` (a project.View) lets it follow names into the
    project's other modules."""
    pic = Picture(module, names, text=text, project=project)
    _Interpreter(pic).run()
    return pic
