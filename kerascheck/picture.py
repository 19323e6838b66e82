"""One small picture of the Keras code in a file, built once for every rule.

A small abstract interpreter walks the module, each function and each Keras
`Layer`/`Model` subclass once, following values through assignments,
branches (as a union of what each branch produced), loops over literal
sequences, same-file helper functions and `self.` attributes. What it records:

- `layers`: every construction of a Keras layer class, with its arguments;
- `applies`: every application of a layer to an input, whichever syntax did
  it (`Sequential([...])`, `model.add(...)`, `Layer(...)(x)`, `self.bn(x)`),
  with the values it consumed, so `producers()` gives the graph's edges;
- `calls`, `binops`, `models`: calls to resolved functions (`tf.*`, `np.*`,
  `keras.ops.*`), arithmetic and `Model(...)` constructions, with the
  abstract values of their operands (is it a symbolic KerasTensor? where was
  it created?);
- `classes`: the file's Keras `Layer`/`Model`/`Constraint` subclasses.

What cannot be followed exactly becomes an "unknown" value, which never
connects two layers: a rule may miss, but it is not misled.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import libcst as cst

from kerascheck.names import Canon, Names, Scope, walk_statements

MAX_UNROLL = 32  # items of a literal sequence a loop is unrolled over
MAX_INLINE_DEPTH = 3
BUDGET = 40_000  # statements interpreted per file, inlining included
NOT_LAYERS = frozenset({"Layer", "InputSpec", "Input", "InputLayer"})


# ----------------------------------------------------------------- values


@dataclass(frozen=True, eq=False)
class Context:
    """Where a piece of code runs."""

    function: cst.FunctionDef | None = None  # innermost function (callee when inlined)
    cls: KerasClass | None = None  # the Keras class whose method this is
    in_call: bool = False  # inside a Keras Layer/Model `call()` (or a helper it inlined)
    scope: Scope | None = None
    # Where the run that reached this code started: "module" (module-level code and what it
    # inlined), "function" (a function run on its own, parameters unknown) or "method" (a
    # method of a Keras class). Inlined helpers inherit it from their caller.
    entry: str = "module"


@dataclass(frozen=True, eq=False)
class LayerDef:
    """A Keras layer constructed in the file: `layers.Dropout(0.5)`."""

    canon: Canon
    node: cst.Call
    ctx: Context

    @property
    def name(self) -> str:
        return self.canon.name

    @property
    def short(self) -> str:
        return self.canon.short

    def arg(self, keyword: str, position: int | None = None) -> cst.BaseExpression | None:
        return call_arg(self.node, keyword, position)


@dataclass(frozen=True, eq=False)
class Apply:
    """A layer applied to inputs. `via`: sequential | add | functional | subclass."""

    layer: LayerDef
    inputs: tuple[Value, ...]
    node: cst.CSTNode  # the call `layer(x)`, or the list element / add() call
    via: str
    ctx: Context
    adjacent: bool = False  # the producer is the previous element of the same list
    call: cst.Call | None = None  # the application call, when there is one

    def kwarg(self, keyword: str) -> cst.BaseExpression | None:
        return call_arg(self.call, keyword, None) if self.call is not None else None


@dataclass(frozen=True, eq=False)
class Value:
    """An abstract value. kind: unknown | ref | layer | model | seq | tensor |
    const | func | class | union."""

    kind: str
    node: cst.CSTNode | None = None  # where it was created
    canon: Canon | None = None  # ref: the resolved name; const: the function that made it
    layer: LayerDef | None = None
    app: Apply | None = None  # tensor: the application that produced it
    items: tuple[Value, ...] = ()  # seq (exact items) and union (alternatives)
    kt: bool = False  # a symbolic KerasTensor
    lib: str | None = None  # const: "tf" | "numpy"
    oid: int | None = None  # model / list: key of its mutable state in the heap
    func: cst.FunctionDef | None = None
    cls: KerasClass | None = None
    label: str | None = None  # the name it was bound to, for messages

    def alternatives(self) -> Iterator[Value]:
        if self.kind == "union":
            yield from self.items
        else:
            yield self


UNKNOWN = Value("unknown")


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
    """A call to a resolved function (`tf.reduce_sum(x)`, `np.ones(3)`, `keras.ops.add`)."""

    canon: Canon
    node: cst.Call
    args: tuple[Value, ...]
    kwargs: tuple[tuple[str, Value], ...]
    ctx: Context

    def operands(self) -> Iterator[Value]:
        yield from self.args
        for _, v in self.kwargs:
            yield v


@dataclass(frozen=True, eq=False)
class BinOpEvent:
    node: cst.BinaryOperation
    left: Value
    right: Value
    ctx: Context


@dataclass(frozen=True, eq=False)
class ModelEvent:
    """`keras.Model(inputs=..., outputs=...)` (or positional)."""

    canon: Canon
    node: cst.Call
    inputs: Value | None
    outputs: Value | None
    ctx: Context


@dataclass(eq=False)
class KerasClass:
    """A class in the file deriving from a Keras Layer, Model or Constraint."""

    node: cst.ClassDef
    kind: str  # "layer" | "model" | "constraint"
    bases: tuple[Canon, ...]  # the resolved Keras bases (direct or through a local class)
    methods: dict[str, cst.FunctionDef] = field(default_factory=dict)
    attrs: dict[str, Value] = field(default_factory=dict)  # self.X set in __init__/build

    @property
    def name(self) -> str:
        return self.node.name.value


@dataclass
class Picture:
    module: cst.Module
    names: Names
    layers: list[LayerDef] = field(default_factory=list)
    applies: list[Apply] = field(default_factory=list)
    calls: list[CallEvent] = field(default_factory=list)
    binops: list[BinOpEvent] = field(default_factory=list)
    models: list[ModelEvent] = field(default_factory=list)
    classes: list[KerasClass] = field(default_factory=list)
    lambdas: list[LayerDef] = field(default_factory=list)  # Lambda layers

    def resolve(self, expr: cst.BaseExpression, scope: Scope | None = None) -> Canon | None:
        return self.names.resolve(expr, scope or self.names.root)

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

    def function_defs(self) -> Iterator[cst.FunctionDef]:
        yield from _Interpreter.all_functions(self.module)


def call_arg(call: cst.Call, keyword: str, position: int | None) -> cst.BaseExpression | None:
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
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        inner = literal_number(expr.expression)
        if inner is None:
            return None
        return -inner if isinstance(expr.operator, cst.Minus) else inner
    if isinstance(expr, (cst.Integer, cst.Float)):
        try:
            return float(expr.evaluated_value)
        except (ValueError, OverflowError):
            return None
    return None


def literal_string(expr: cst.BaseExpression | None) -> str | None:
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


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
        names = set(itertools.chain.from_iterable(o.vars for o in others))
        self.vars = {n: union([o.vars[n] for o in others if n in o.vars]) for n in names}
        keys = set(itertools.chain.from_iterable(o.heap for o in others))
        heap: dict[int, object] = {}
        for k in keys:
            states = [o.heap[k] for o in others if k in o.heap]
            first = states[0]
            if all(s == first for s in states):
                heap[k] = first
            elif isinstance(first, _SeqState):
                heap[k] = _SeqState(union([s.last for s in states]), None)
            else:
                heap[k] = None  # a list that differs between branches: inexact
        self.heap = heap


@dataclass(frozen=True)
class _SeqState:
    last: Value  # what the next added layer consumes
    last_layer: LayerDef | None  # the previous layer, for adjacency


class _Return(Exception):
    pass


class _Interpreter:
    def __init__(self, pic: Picture) -> None:
        self.pic = pic
        self.names = pic.names
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

    # -- entry ---------------------------------------------------------------

    @staticmethod
    def all_functions(module: cst.Module) -> Iterator[cst.FunctionDef]:
        for node in walk_statements(module.body):
            if isinstance(node, cst.FunctionDef):
                yield node

    def run(self) -> None:
        module = self.pic.module
        self._find_classes(module)
        env = _Env()
        ctx = Context(scope=self.names.root)
        # While module-level code runs, the functions it inlines see the module's names so far
        # (`env.vars`: the same dict, or its replacement after a branch joins).
        self._module_env = env
        try:
            self.block(module.body, env, ctx)
        except _Return:  # a module-level `raise`: what ran until then is the picture
            pass
        self.globals = env.vars
        self.global_heap = env.heap
        self._module_env = None
        for cls in self.pic.classes:
            self._run_class(cls)
        for fn in self.all_functions(module):
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
                    k = _class_kind(canon)
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

    def _run_class(self, kc: KerasClass) -> None:
        scope_ctx = lambda fn, in_call=False: Context(fn, kc, in_call, self.names.scope_of(fn), "method")  # noqa: E731
        attrs: dict[str, Value] = {}
        heap = dict(self.global_heap)
        for name in ("__init__", "build"):
            fn = kc.methods.get(name)
            if fn is None:
                continue
            self.functions_run.add(id(fn))
            env = self._params_env(fn, heap=heap, self_attrs=attrs)
            self._exec_function(fn, env, scope_ctx(fn), self_attrs=attrs)
            heap = env.heap
        kc.attrs = attrs
        for name, fn in kc.methods.items():
            if name in ("__init__", "build") or id(fn) in self.functions_run:
                continue
            self.functions_run.add(id(fn))
            in_call = kc.kind in ("layer", "model") and name in ("call", "__call__")
            env = self._params_env(fn, heap=dict(heap), self_attrs=attrs)
            self._exec_function(fn, env, scope_ctx(fn, in_call), self_attrs=attrs)

    def _params_env(self, fn: cst.FunctionDef, heap=None, self_attrs=None) -> _Env:
        env = _Env(heap=dict(heap) if heap is not None else dict(self.global_heap))
        params = fn.params
        for p in (*params.posonly_params, *params.params, *params.kwonly_params):
            env.vars[p.name.value] = Value("unknown", node=p, label=p.name.value)
        return env

    def _run_standalone(self, fn: cst.FunctionDef) -> None:
        self.functions_run.add(id(fn))
        env = self._params_env(fn)
        self._exec_function(fn, env, Context(fn, None, False, self.names.scope_of(fn), "function"))

    def _exec_function(self, fn, env: _Env, ctx: Context, self_attrs=None) -> Value:
        saved = (self.self_name, self.self_attrs, self.returns)
        params = [*fn.params.posonly_params, *fn.params.params]
        if self_attrs is not None and params:
            self.self_name = params[0].name.value
            self.self_attrs = self_attrs
        elif self_attrs is None:
            self.self_name, self.self_attrs = None, None
        self.returns = []
        try:
            self.suite(fn.body, env, ctx)
        except _Return:
            pass
        result = union(self.returns) if self.returns else UNKNOWN
        self.self_name, self.self_attrs, self.returns = saved
        return result

    # -- statements ------------------------------------------------------------

    def suite(self, suite, env: _Env, ctx: Context) -> None:
        if isinstance(suite, cst.IndentedBlock):
            self.block(suite.body, env, ctx)
        elif isinstance(suite, cst.SimpleStatementSuite):
            for small in suite.body:
                self.small(small, env, ctx)

    def block(self, body, env: _Env, ctx: Context) -> None:
        for stmt in body:
            self.budget -= 1
            if self.budget < 0:
                return
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self.small(small, env, ctx)
            else:
                self.compound(stmt, env, ctx)

    def small(self, small, env: _Env, ctx: Context) -> None:
        if isinstance(small, cst.Assign):
            value = self.expr(small.value, env, ctx)
            for target in small.targets:
                self.assign(target.target, value, env, ctx)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self.assign(small.target, self.expr(small.value, env, ctx), env, ctx)
        elif isinstance(small, cst.AugAssign):
            left = self.expr(small.target, env, ctx)
            right = self.expr(small.value, env, ctx)
            self.assign(small.target, self._binop(small, left, right, env, ctx, small.operator), env, ctx)
        elif isinstance(small, cst.Expr):
            self.expr(small.value, env, ctx)
        elif isinstance(small, cst.Return):
            if self.returns is not None:
                self.returns.append(self.expr(small.value, env, ctx) if small.value else UNKNOWN)
            raise _Return
        elif isinstance(small, cst.Del):
            for el in _flatten_targets(small.target):
                if isinstance(el, cst.Name):
                    env.vars.pop(el.value, None)
        elif isinstance(small, cst.Raise):
            raise _Return

    def compound(self, stmt, env: _Env, ctx: Context) -> None:
        if isinstance(stmt, cst.FunctionDef):
            env.vars[stmt.name.value] = Value("func", node=stmt, func=stmt, label=stmt.name.value)
        elif isinstance(stmt, cst.ClassDef):
            kc = self.class_of.get(stmt)
            env.vars[stmt.name.value] = Value("class", node=stmt, cls=kc, label=stmt.name.value)
        elif isinstance(stmt, cst.If):
            self.expr(stmt.test, env, ctx)
            self._branches(env, ctx, [stmt.body, stmt.orelse])
        elif isinstance(stmt, (cst.For,)):
            self._for(stmt, env, ctx)
        elif isinstance(stmt, cst.While):
            self.expr(stmt.test, env, ctx)
            self._branches(env, ctx, [stmt.body, None])
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            self._guarded(stmt.body, env, ctx)
            branches = [h.body for h in stmt.handlers]
            if stmt.orelse is not None:
                self._guarded(stmt.orelse.body, env, ctx)
            if branches:
                self._branches(env, ctx, [None, *branches])
            if stmt.finalbody is not None:
                self._guarded(stmt.finalbody.body, env, ctx)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                value = self.expr(item.item, env, ctx)
                if item.asname is not None:
                    self.assign(item.asname.name, UNKNOWN if value.kind != "model" else value, env, ctx)
            self.suite(stmt.body, env, ctx)
        elif isinstance(stmt, cst.Match):
            self.expr(stmt.subject, env, ctx)
            self._branches(env, ctx, [None, *[c.body for c in stmt.cases]])

    def _guarded(self, suite, env: _Env, ctx: Context) -> None:
        try:
            self.suite(suite, env, ctx)
        except _Return:
            pass

    def _branches(self, env: _Env, ctx: Context, suites) -> None:
        results = []
        for suite in suites:
            branch = env.copy()
            if isinstance(suite, cst.If):  # elif
                try:
                    self.compound(suite, branch, ctx)
                except _Return:
                    continue
            elif isinstance(suite, cst.Else):
                try:
                    self.suite(suite.body, branch, ctx)
                except _Return:
                    continue
            elif suite is not None:
                try:
                    self.suite(suite, branch, ctx)
                except _Return:
                    continue
            results.append(branch)
        if results:
            env.join(results)
        else:
            raise _Return

    def _for(self, stmt: cst.For, env: _Env, ctx: Context) -> None:
        iterable = self.expr(stmt.iter, env, ctx)
        items: list[Value] | None = None
        repeat = 1
        seq = self._seq_items(iterable, env)
        if seq is not None and 0 < len(seq) <= MAX_UNROLL:
            items = seq
        elif _is_range_call(stmt.iter):
            count = _range_count(stmt.iter)
            repeat = 2 if count is not None and count >= 2 else 1
        for i in range(len(items) if items is not None else repeat):
            self.assign(stmt.target, items[i] if items is not None else UNKNOWN, env, ctx)
            try:
                self.suite(stmt.body, env, ctx)
            except _Return:
                break
        if stmt.orelse is not None:
            self._guarded(stmt.orelse.body, env, ctx)

    def assign(self, target, value: Value, env: _Env, ctx: Context) -> None:
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
                    sub = Value("tensor", node=value.node, kt=True, app=value.app)
                else:
                    sub = UNKNOWN
                self.assign(el.value if isinstance(el, cst.StarredElement) else el, sub, env, ctx)
        elif isinstance(target, cst.Attribute):
            if self._is_self(target.value):
                self.self_attrs[target.attr.value] = value
        elif isinstance(target, cst.Subscript):
            base = self.expr(target.value, env, ctx)
            if base.kind == "seq" and base.oid is not None:
                env.heap[base.oid] = None

    # -- expressions -----------------------------------------------------------

    def expr(self, node, env: _Env, ctx: Context) -> Value:
        if node is None:
            return UNKNOWN
        if isinstance(node, cst.Name):
            return self._name(node, env, ctx)
        if isinstance(node, cst.Attribute):
            if self._is_self(node.value):
                return self.self_attrs.get(node.attr.value, UNKNOWN)
            base = self.expr(node.value, env, ctx)
            if base.kind == "ref" and base.canon is not None:
                return self._ref(node, ctx)
            return UNKNOWN
        if isinstance(node, cst.Call):
            return self.call(node, env, ctx)
        if isinstance(node, (cst.List, cst.Tuple)):
            items = []
            exact = True
            for el in node.elements:
                if isinstance(el, cst.StarredElement):
                    inner = self._seq_items(self.expr(el.value, env, ctx), env)
                    if inner is None:
                        exact = False
                    else:
                        items.extend(inner)
                else:
                    items.append(self.expr(el.value, env, ctx))
            return self._new_seq(items if exact else None, env, node)
        if isinstance(node, cst.BinaryOperation):
            left = self.expr(node.left, env, ctx)
            right = self.expr(node.right, env, ctx)
            return self._binop(node, left, right, env, ctx, node.operator)
        if isinstance(node, cst.UnaryOperation):
            inner = self.expr(node.expression, env, ctx)
            return Value("tensor", node=node, kt=True) if inner.kt else UNKNOWN
        if isinstance(node, cst.Subscript):
            base = self.expr(node.value, env, ctx)
            for el in node.slice:
                if isinstance(el.slice, cst.Index):
                    self.expr(el.slice.value, env, ctx)
            if base.kt:
                return Value("tensor", node=node, kt=True, app=base.app)
            items = self._seq_items(base, env)
            if items is not None and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
                index = literal_number(node.slice[0].slice.value)
                if index is not None and index == int(index) and -len(items) <= index < len(items):
                    return items[int(index)]
            return UNKNOWN
        if isinstance(node, cst.IfExp):
            self.expr(node.test, env, ctx)
            return union([self.expr(node.body, env, ctx), self.expr(node.orelse, env, ctx)])
        if isinstance(node, cst.NamedExpr):
            value = self.expr(node.value, env, ctx)
            self.assign(node.target, value, env, ctx)
            return value
        if isinstance(node, cst.Await):
            return self.expr(node.expression, env, ctx)
        if isinstance(node, (cst.BooleanOperation, cst.Comparison)):
            for child in node.children:
                if isinstance(child, cst.BaseExpression):
                    self.expr(child, env, ctx)
                elif isinstance(child, cst.ComparisonTarget):
                    self.expr(child.comparator, env, ctx)
            return UNKNOWN
        if isinstance(node, cst.Dict):
            for el in node.elements:
                if isinstance(el, cst.DictElement):
                    self.expr(el.value, env, ctx)
            return UNKNOWN
        if isinstance(node, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            return self._comprehension(node, env, ctx)
        return UNKNOWN

    def _comprehension(self, node, env: _Env, ctx: Context) -> Value:
        """`[f(t) for t in items]`: the element is evaluated once per item of a known
        sequence (like an unrolled loop), else once with the target unknown. A list
        comprehension with one `for` and no `if` over a known sequence gives a known list."""
        comp = node.for_in
        items = self._seq_items(self.expr(comp.iter, env, ctx), env)
        if items is None or not 0 < len(items) <= MAX_UNROLL:
            items = None
        inner = _Env(dict(env.vars), env.heap)  # the comprehension's own scope
        results = []
        for item in items if items is not None else [UNKNOWN]:
            self.assign(comp.target, item, inner, ctx)
            for cond in comp.ifs:
                self.expr(cond.test, inner, ctx)
            more = comp.inner_for_in
            while more is not None:
                self.expr(more.iter, inner, ctx)
                self.assign(more.target, UNKNOWN, inner, ctx)
                for cond in more.ifs:
                    self.expr(cond.test, inner, ctx)
                more = more.inner_for_in
            results.append(self.expr(node.elt, inner, ctx))
        exact = (items is not None and isinstance(node, cst.ListComp) and not comp.ifs
                 and comp.inner_for_in is None)
        return self._new_seq(results, env, node) if exact else UNKNOWN

    def _name(self, node: cst.Name, env: _Env, ctx: Context) -> Value:
        name = node.value
        if name in env.vars:
            return env.vars[name]
        module_vars = self._module_env.vars if self._module_env is not None else self.globals
        if ctx.function is not None and name in module_vars and not self._is_local(name, ctx):
            return module_vars[name]
        return self._ref(node, ctx)

    def _is_local(self, name: str, ctx: Context) -> bool:
        scope = ctx.scope
        return scope is not None and scope.kind == "function" and name in scope.bindings

    def _ref(self, node, ctx: Context) -> Value:
        canon = self.names.resolve(node, ctx.scope or self.names.root)
        return Value("ref", node=node, canon=canon) if canon is not None else UNKNOWN

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

    def _binop(self, node, left: Value, right: Value, env: _Env, ctx: Context, op) -> Value:
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
            self.pic.binops.append(BinOpEvent(node, left, right, ctx))
        if left.kt or (right.kt and not (left.kind == "const" and left.lib == "numpy")):
            return Value("tensor", node=node, kt=True)
        return UNKNOWN

    # -- calls -------------------------------------------------------------------

    def _args(self, call: cst.Call, env: _Env, ctx: Context) -> tuple[tuple[Value, ...], tuple[tuple[str, Value], ...]]:
        args, kwargs = [], []
        for arg in call.args:
            value = self.expr(arg.value, env, ctx)
            if arg.keyword is not None:
                kwargs.append((arg.keyword.value, value))
            elif arg.star == "*":
                items = self._seq_items(value, env)
                args.extend(items if items is not None else [UNKNOWN])
            elif not arg.star:
                args.append(value)
        return tuple(args), tuple(kwargs)

    def _symbolic(self, values, env: _Env, depth: int = 0) -> bool:
        """A KerasTensor among `values` or among the items of a list or tuple among them:
        `Concatenate()([a, b])` and `keras.ops.stack([a, b])` are symbolic calls too."""
        for v in values:
            if v.kt:
                return True
            if v.kind == "seq" and depth < 2:
                items = self._seq_items(v, env)
                if items is not None and self._symbolic(items, env, depth + 1):
                    return True
        return False

    def _is_self(self, node) -> bool:
        return (self.self_name is not None and self.self_attrs is not None
                and isinstance(node, cst.Name) and node.value == self.self_name)

    def call(self, call: cst.Call, env: _Env, ctx: Context) -> Value:
        func = call.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if self._is_self(func.value):
                target = self.self_attrs.get(method)
                if target is not None:
                    return self._call_value(target, call, env, ctx)
                if ctx.cls is not None and method in ctx.cls.methods:
                    return self._inline(ctx.cls.methods[method], call, env, ctx, bound=True)
                self._args(call, env, ctx)
                return UNKNOWN
            owner = self.expr(func.value, env, ctx)
            if owner.kind == "ref":
                return self._call_value(self._ref(func, ctx), call, env, ctx)
            if owner.kind == "model" and owner.oid is not None and method in ("add", "pop"):
                args, _ = self._args(call, env, ctx)
                if method == "pop":  # the last layer is gone: what the next one reads is unknown
                    env.heap[owner.oid] = _SeqState(UNKNOWN, None)
                elif args:
                    self._seq_add(owner.oid, args[0], call, "add", env, ctx)
                return UNKNOWN
            if owner.kind == "seq" and owner.oid is not None:
                args, kwargs = self._args(call, env, ctx)
                items = self._seq_items(owner, env)
                extra = None
                if items is not None and len(args) == 1 and not kwargs:
                    if method == "append":
                        extra = [args[0]]
                    elif method == "extend":
                        extra = self._seq_items(args[0], env)
                # insert, pop, sort, ...: the list is no longer known exactly.
                env.heap[owner.oid] = tuple(items + extra) if extra is not None else None
                return UNKNOWN
            # Methods of other objects (`x.numpy()`, `model.fit(...)`) are opaque.
            self._args(call, env, ctx)
            return UNKNOWN
        if isinstance(func, cst.Lambda):
            self._args(call, env, ctx)
            return UNKNOWN
        return self._call_value(self.expr(func, env, ctx), call, env, ctx)

    def _call_value(self, callee: Value, call: cst.Call, env: _Env, ctx: Context) -> Value:
        if callee.kind == "ref" and callee.canon is not None:
            return self._call_ref(callee.canon, call, env, ctx)
        if callee.kind == "layer" and callee.layer is not None:
            args, kwargs = self._args(call, env, ctx)
            inputs = args[:1] if args else tuple(v for k, v in kwargs if k == "inputs")
            via = "subclass" if ctx.cls is not None else "functional"
            app = Apply(callee.layer, inputs, call, via, ctx, call=call)
            self.pic.applies.append(app)
            kt = self._symbolic([*args, *(v for _, v in kwargs)], env)
            return Value("tensor", node=call, app=app, kt=kt)
        if callee.kind == "model":
            args, kwargs = self._args(call, env, ctx)
            kt = self._symbolic(args, env)
            return Value("tensor", node=call, kt=kt)
        if callee.kind == "func" and callee.func is not None:
            return self._inline(callee.func, call, env, ctx)
        if callee.kind == "class":
            args, kwargs = self._args(call, env, ctx)
            if callee.cls is not None and callee.cls.kind in ("layer", "model"):
                canon = Canon(f"<local>.{callee.cls.name}", "local")
                layer = LayerDef(canon, call, ctx)
                return Value("layer", node=call, layer=layer)
            return UNKNOWN
        if callee.kind == "union":
            # A layer chosen between branches: apply each alternative.
            if all(alt.kind == "layer" for alt in callee.items):
                return union([self._call_value(alt, call, env, ctx) for alt in callee.items])
        self._args(call, env, ctx)
        return UNKNOWN

    def _call_ref(self, canon: Canon, call: cst.Call, env: _Env, ctx: Context) -> Value:
        name = canon.name
        if canon.flavor is not None:
            if name == "keras.Sequential":
                return self._sequential(canon, call, env, ctx)
            if name == "keras.Input":
                self._args(call, env, ctx)
                return Value("tensor", node=call, kt=True, canon=canon)
            if name in ("keras.Model", "keras.Functional"):
                args, kwargs = self._args(call, env, ctx)
                kw = dict(kwargs)
                inputs = kw.get("inputs", args[0] if args else None)
                outputs = kw.get("outputs", args[1] if len(args) > 1 else None)
                self.pic.models.append(ModelEvent(canon, call, inputs, outputs, ctx))
                return Value("model", node=call, canon=canon)
            if name.startswith("keras.layers.") and canon.short[:1].isupper() and canon.short not in NOT_LAYERS:
                self._args(call, env, ctx)
                layer = LayerDef(canon, call, ctx)
                self.pic.layers.append(layer)
                if canon.short == "Lambda":
                    self.pic.lambdas.append(layer)
                return Value("layer", node=call, layer=layer)
        args, kwargs = self._args(call, env, ctx)
        self.pic.calls.append(CallEvent(canon, call, args, kwargs, ctx))
        kt = self._symbolic([*args, *(v for _, v in kwargs)], env)
        if canon.flavor is not None and name.startswith(("keras.ops.", "keras.activations.", "keras.random.")):
            return Value("tensor", node=call, kt=kt, canon=canon)
        if kt and canon.flavor is None and name.startswith("tensorflow."):
            # A TF op on a KerasTensor: legacy Keras wraps it into a layer and returns a
            # KerasTensor; Keras 3 raises, and the fixed code (keras.ops, a layer) gives one.
            return Value("tensor", node=call, kt=True, canon=canon)
        if not kt:
            root = name.split(".", 1)[0]
            if root == "numpy":
                return Value("const", node=call, canon=canon, lib="numpy")
            if root == "tensorflow":
                return Value("const", node=call, canon=canon, lib="tf")
        return UNKNOWN

    def _sequential(self, canon: Canon, call: cst.Call, env: _Env, ctx: Context) -> Value:
        args, kwargs = self._args(call, env, ctx)
        oid = next(self.oids)
        env.heap[oid] = _SeqState(UNKNOWN, None)
        model = Value("model", node=call, canon=canon, oid=oid)
        layers = dict(kwargs).get("layers", args[0] if args else None)
        if layers is not None:
            items = self._seq_items(layers, env)
            if items is None:
                return model
            for item in items:
                self._seq_add(oid, item, item.node or call, "sequential", env, ctx)
        return model

    def _seq_add(self, oid: int, item: Value, node, via: str, env: _Env, ctx: Context) -> None:
        state = env.heap.get(oid)
        if not isinstance(state, _SeqState):
            return
        if item.kind == "layer" and item.layer is not None:
            adjacent = state.last_layer is not None and via == "sequential"
            app = Apply(item.layer, (state.last,), node, via, ctx, adjacent=adjacent)
            self.pic.applies.append(app)
            env.heap[oid] = _SeqState(Value("tensor", node=node, app=app), item.layer)
        elif item.kind == "tensor" and item.kt:  # keras.Input(...) as the first element
            env.heap[oid] = _SeqState(item, None)
        else:
            env.heap[oid] = _SeqState(UNKNOWN, None)

    def _inline(self, fn: cst.FunctionDef, call: cst.Call, env: _Env, ctx: Context, bound: bool = False) -> Value:
        args, kwargs = self._args(call, env, ctx)
        if self.depth >= MAX_INLINE_DEPTH or self.budget < 0:
            return UNKNOWN
        if not bound:
            self.functions_run.add(id(fn))
        params = [*fn.params.posonly_params, *fn.params.params]
        if bound and params:
            params = params[1:]
        callee_env = _Env(heap=env.heap)
        for p in [*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params]:
            callee_env.vars[p.name.value] = Value("unknown", node=p, label=p.name.value)
        for p, v in zip(params, args):
            callee_env.vars[p.name.value] = v
        kw = dict(kwargs)
        for p in [*params, *fn.params.kwonly_params]:
            if p.name.value in kw:
                callee_env.vars[p.name.value] = kw[p.name.value]
        callee_ctx = Context(fn, ctx.cls if bound else None, ctx.in_call, self.names.scope_of(fn), ctx.entry)
        self.depth += 1
        try:
            if bound:
                result = self._exec_function(fn, callee_env, callee_ctx, self_attrs=self.self_attrs)
            else:
                saved = (self.self_name, self.self_attrs)
                self.self_name, self.self_attrs = None, None
                try:
                    result = self._exec_function(fn, callee_env, callee_ctx)
                finally:
                    self.self_name, self.self_attrs = saved
        finally:
            self.depth -= 1
        env.heap.update(callee_env.heap)
        return result


def _class_kind(canon: Canon) -> str | None:
    name = canon.name
    if name.startswith("keras.constraints."):
        return "constraint"
    if name in ("keras.Model", "keras.Sequential", "keras.Functional"):
        return "model"
    if name.startswith("keras.layers.") and canon.short[:1].isupper() and canon.short not in ("Input", "InputSpec"):
        return "layer"
    return None


def _suite_body(suite) -> list:
    return list(suite.body) if isinstance(suite, cst.IndentedBlock) else []


def _flatten_targets(target) -> Iterator[cst.BaseExpression]:
    if isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from _flatten_targets(el.value)
    else:
        yield target


def _relabel(value: Value, label: str) -> Value:
    return Value(value.kind, value.node, value.canon, value.layer, value.app, value.items,
                 value.kt, value.lib, value.oid, value.func, value.cls, label)


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


def build(module: cst.Module, names: Names) -> Picture:
    pic = Picture(module, names)
    _Interpreter(pic).run()
    return pic
