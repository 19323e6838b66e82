"""The flow half of the semantic model: parent links, source order, constants, def-use,
call sites, and gating on the training flag.

Everything here is computed on first use from the one parsed module, with the one walker
(`names.walk`), and memoised: a file whose rules never ask for a parent link never pays for
the index. Rules reach it through `Context` (rule.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import libcst as cst

from kerascheck.names import Names, Scope, unpacked, walk


class _NotConstant:
    """What `constant()` returns for a value it cannot prove."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<not constant>"

    def __bool__(self) -> bool:
        return False


NOT_CONSTANT: Any = _NotConstant()
MAX_CONST_DEPTH = 8
MAX_FLOW = 24  # assignments followed from a value to its uses
_BIG = 10 ** 6  # constant folding refuses results that grow past this many digits/items

# ------------------------------------------------------------------ literals


def literal_value(expr: cst.BaseExpression | None) -> Any:
    """The Python value of a literal (numbers, strings, True/False/None, and tuples, lists and
    dicts of literals, with unary signs), else NOT_CONSTANT. No names are looked up."""
    if expr is None:
        return NOT_CONSTANT
    kind = type(expr)
    if kind is cst.Integer or kind is cst.Float:
        try:  # what `evaluated_value` gives, without its `ast.literal_eval` (measured: slow on the hot path)
            return int(expr.value, 0) if kind is cst.Integer else float(expr.value)
        except (ValueError, OverflowError):
            pass
    if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary)):
        try:
            return expr.evaluated_value
        except (ValueError, OverflowError):
            return NOT_CONSTANT
    if type(expr) is cst.SimpleString:
        value = _plain_string(expr.value)
        if value is not None:
            return value
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
        try:
            value = expr.evaluated_value
        except Exception:  # noqa: BLE001 - odd escapes
            return NOT_CONSTANT
        return value if value is not None else NOT_CONSTANT
    if isinstance(expr, cst.Name) and expr.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[expr.value]
    if isinstance(expr, cst.UnaryOperation):
        inner = literal_value(expr.expression)
        return _unary(expr.operator, inner)
    if isinstance(expr, (cst.Tuple, cst.List)):
        items = []
        for el in expr.elements:
            if isinstance(el, cst.StarredElement):
                return NOT_CONSTANT
            value = literal_value(el.value)
            if value is NOT_CONSTANT:
                return NOT_CONSTANT
            items.append(value)
        return tuple(items) if isinstance(expr, cst.Tuple) else items
    return NOT_CONSTANT


def _plain_string(source: str) -> str | None:
    """The value of a string literal with no escape to interpret (`'relu'`, `r"\\d"`, a docstring),
    without libcst's `evaluated_value`, which compiles it (measured: a tenth of the interpreter's
    time on tf_keras); None for bytes and anything with a backslash."""
    quote = source.find(source[-1])
    prefix = source[:quote].lower()
    if prefix not in ("", "r", "u"):
        return None
    width = 3 if source[quote:quote + 3] == source[-1] * 3 and len(source) - quote >= 6 else 1
    body = source[quote + width:len(source) - width]
    if "\\" in body and prefix != "r":
        return None
    return body


def _unary(op, inner) -> Any:
    if inner is NOT_CONSTANT:
        return NOT_CONSTANT
    try:
        if isinstance(op, cst.Minus) and _number(inner):
            return -inner
        if isinstance(op, cst.Plus) and _number(inner):
            return +inner
        if isinstance(op, cst.Not):
            return not inner
        if isinstance(op, cst.BitInvert) and isinstance(inner, int) and not isinstance(inner, bool):
            return ~inner
    except TypeError:
        pass
    return NOT_CONSTANT


def _number(value) -> bool:
    return isinstance(value, (int, float, complex)) and not isinstance(value, bool)


_BINOPS = {
    cst.Add: lambda a, b: a + b, cst.Subtract: lambda a, b: a - b, cst.Multiply: lambda a, b: a * b,
    cst.Divide: lambda a, b: a / b, cst.FloorDivide: lambda a, b: a // b, cst.Modulo: lambda a, b: a % b,
    cst.Power: lambda a, b: a ** b,
}


def fold(op, left, right) -> Any:
    """`left <op> right` for constant operands, refusing huge or non-finite results."""
    fn = _BINOPS.get(type(op))
    if fn is None or left is NOT_CONSTANT or right is NOT_CONSTANT:
        return NOT_CONSTANT
    if isinstance(op, cst.Power) and (not _number(right) or abs(right) > 64 or not _number(left)):
        return NOT_CONSTANT
    sequences = (str, bytes, tuple, list)
    if isinstance(op, cst.Multiply) and (isinstance(left, sequences) or isinstance(right, sequences)):
        seq, count = (left, right) if isinstance(left, sequences) else (right, left)
        if not isinstance(count, int) or len(seq) * max(count, 0) > _BIG:
            return NOT_CONSTANT
    if isinstance(op, cst.Modulo) and isinstance(left, str):
        return NOT_CONSTANT  # %-formatting: not worth proving
    try:
        result = fn(left, right)
    except (ArithmeticError, TypeError, ValueError):
        return NOT_CONSTANT
    if isinstance(result, float) and not math.isfinite(result):
        return NOT_CONSTANT
    if isinstance(result, int) and result.bit_length() > 4096:
        return NOT_CONSTANT
    return result


# ------------------------------------------------------------------ phase words

# Words in a name that make a condition "about the training phase". Generous on purpose: a
# condition misread as gating costs a miss; a gate missed costs a false positive.
_PHASE_TOKENS = frozenset({
    "phase", "deterministic", "infer", "inference", "inferring", "predict", "prediction", "predicting",
    "eval", "evaluate", "evaluation", "evaluating", "test", "testing", "mc", "monte", "stochastic",
})
# Calls that choose between values by a predicate.
_SELECTORS = frozenset({"cond", "smart_cond", "switch", "case", "where", "select", "while_loop"})
# Calls that apply their first argument only in training, whatever else they are given.
_PHASE_CALLS = frozenset({"in_train_phase", "in_test_phase"})


def tokens(identifier: str) -> list[str]:
    """`isTrainingMode` / `is_training_mode` -> ["is", "training", "mode"]."""
    words = []
    for part in identifier.split("_"):
        words.extend(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", part))
    return [w.lower() for w in words]


def phase_word(identifier: str) -> bool:
    return any(t.startswith("train") or t in _PHASE_TOKENS for t in tokens(identifier))


def _last_name(expr: cst.BaseExpression) -> str | None:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return None


# ------------------------------------------------------------------ the index


class Flow:
    """Parent links, order, constants, def-use and gating for one parsed module."""

    def __init__(self, module: cst.Module, names: Names) -> None:
        self.module = module
        self.names = names
        self._parent: dict[int, cst.CSTNode] | None = None
        self._order: dict[int, int] = {}
        self._calls: dict[str, list[cst.Call]] | None = None
        self._attributes: dict[str, list[cst.Attribute]] | None = None
        self._bodies: dict[tuple[int, frozenset[str]], _Body] = {}
        self._loop_names: dict[int, frozenset[str]] = {}
        self._uses: dict[int, list[cst.Name]] = {}
        # (name, scope or None) -> the value of a name no assignment here binds (set by the picture).
        self.external = None

    # -- tree -------------------------------------------------------------------------------

    def _index(self) -> dict[int, cst.CSTNode]:
        if self._parent is None:
            parent: dict[int, cst.CSTNode] = {}
            order = self._order
            calls: dict[str, list[cst.Call]] = {}
            attributes: dict[str, list[cst.Attribute]] = {}
            for index, node in enumerate(walk(self.module, parents=parent)):
                order[id(node)] = index
                if type(node) is cst.Call:
                    name = _last_name(node.func)
                    if name is not None:
                        calls.setdefault(name, []).append(node)
                elif isinstance(node, cst.Attribute):
                    attributes.setdefault(node.attr.value, []).append(node)
            self._parent = parent
            self._calls = calls
            self._attributes = attributes
        return self._parent

    def walk(self, node: cst.CSTNode, into_scopes: bool = True) -> Iterator[cst.CSTNode]:
        return walk(node, into_scopes)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self._index().get(id(node))

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        parents = self._index()
        current = parents.get(id(node))
        while current is not None:
            yield current
            current = parents.get(id(current))

    def enclosing(self, node: cst.CSTNode, kinds) -> Any:
        for outer in self.ancestors(node):
            if isinstance(outer, kinds):
                return outer
        return None

    def attributes(self, name: str) -> list[cst.Attribute]:
        """Every `<expr>.name` in the module (loads, stores and calls alike), in source order."""
        self._index()
        return list(self._attributes.get(name, ()))

    def order(self, node: cst.CSTNode) -> int:
        """The node's place in a walk of the module (parents before children, source order)."""
        self._index()
        return self._order.get(id(node), -1)

    def end(self, node: cst.CSTNode) -> int:
        """The order of the last node inside `node`."""
        return max(self.order(n) for n in walk(node))

    def statement(self, node: cst.CSTNode) -> cst.CSTNode:
        """The statement (simple or compound) that holds `node`."""
        current = node
        for outer in self.ancestors(node):
            if isinstance(current, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return current
            current = outer
        return current

    def docstring(self, node: cst.CSTNode | None) -> str:
        body = self.module.body if node is None else getattr(node, "body", None)
        if isinstance(body, cst.IndentedBlock):
            body = body.body
        if not isinstance(body, (list, tuple)) or not body:
            return ""
        first = body[0]
        if isinstance(first, cst.SimpleStatementLine) and first.body and isinstance(first.body[0], cst.Expr):
            value = first.body[0].value
            if isinstance(value, (cst.SimpleString, cst.ConcatenatedString)):
                try:
                    text = value.evaluated_value
                except Exception:  # noqa: BLE001
                    return ""
                return text if isinstance(text, str) else ""
        return ""

    def comments(self, node: cst.CSTNode) -> list[str]:
        found = [n.value for n in walk(node) if isinstance(n, cst.Comment)]
        stmt = self.statement(node)
        for line in getattr(stmt, "leading_lines", ()):
            if line.comment is not None:
                found.insert(0, line.comment.value)
        return found

    # -- scopes -----------------------------------------------------------------------------

    def scope_of(self, node: cst.CSTNode) -> Scope:
        return self.names.enclosing_scope(node, self)

    def bindings(self, name: str, at: cst.CSTNode | Scope | None):
        """(scope, bindings) that a load of `name` at `at` sees, or None (builtins, star imports)."""
        scope = at if isinstance(at, Scope) else (self.scope_of(at) if at is not None else self.names.root)
        return self.names.lookup_bindings(name, scope)

    # -- constants --------------------------------------------------------------------------

    def constant(self, expr: cst.BaseExpression | None, scope: Scope | None = None, depth: int = 0) -> Any:
        """The value of `expr`: a literal, or names bound to one (the assignment that reaches
        the name in straight-line code, else the scope's only binding of it), folded through
        arithmetic, tuples and indexing. With `scope` given, names are looked up there by their
        single binding alone (no parent links needed: the interpreter's fast path)."""
        if expr is None or depth > MAX_CONST_DEPTH:
            return NOT_CONSTANT
        value = literal_value(expr)
        if value is not NOT_CONSTANT:
            return value
        if isinstance(expr, cst.Name):
            if scope is not None:
                source = self._single(expr.value, scope)
                next_scope = scope
            else:
                source = self.reaching(expr)
                if source is None:
                    source = self._single(expr.value, expr)
                next_scope = None
            if source is None:
                # An imported name: a constant of another module of the project, if the picture knows one.
                return self.external(expr, scope) if self.external is not None else NOT_CONSTANT
            return self.constant(source, next_scope, depth + 1)
        if isinstance(expr, cst.BinaryOperation):
            return fold(expr.operator, self.constant(expr.left, scope, depth + 1),
                         self.constant(expr.right, scope, depth + 1))
        if isinstance(expr, cst.UnaryOperation):
            return _unary(expr.operator, self.constant(expr.expression, scope, depth + 1))
        if isinstance(expr, (cst.Tuple, cst.List)):
            items = []
            for el in expr.elements:
                if isinstance(el, cst.StarredElement):
                    return NOT_CONSTANT
                item = self.constant(el.value, scope, depth + 1)
                if item is NOT_CONSTANT:
                    return NOT_CONSTANT
                items.append(item)
            return tuple(items) if isinstance(expr, cst.Tuple) else items
        if isinstance(expr, cst.Subscript) and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index):
            base = self.constant(expr.value, scope, depth + 1)
            index = self.constant(expr.slice[0].slice.value, scope, depth + 1)
            if isinstance(base, (tuple, list)) and isinstance(index, int) and -len(base) <= index < len(base):
                return base[index]
        return NOT_CONSTANT

    def definition(self, name: cst.Name) -> cst.CSTNode | None:
        source = self.reaching(name)
        if source is not None:
            return source
        found = self.bindings(name.value, name)
        if found is None or len(found[1]) != 1 or found[1][0].kind not in ("assign", "alias", "none", "def"):
            return None
        return found[1][0].value

    def parameter(self, name: cst.Name) -> cst.Param | None:
        found = self.bindings(name.value, name)
        if found is None or not isinstance(found[0].node, cst.FunctionDef):
            return None
        p = found[0].node.params
        param = next((q for q in (*p.posonly_params, *p.params, *p.kwonly_params) if q.name.value == name.value), None)
        others = [b for b in found[1] if b.kind != "param"]
        if param is None or len(found[1]) - len(others) != 1:
            return None  # not a parameter, or also a loop target, an unpacking, `x += 1`...
        at = self.order(self.statement(name))
        if any(b.value is None or self.order(self.statement(b.value)) < at for b in others):
            return None
        return param

    def values(self, name: cst.Name) -> list[cst.BaseExpression] | None:
        """What a load of `name` may stand for: the one value it is bound to (`definition`), or,
        for a parameter its function never rebinds, what each same-file call gives it (its default
        where a call leaves it out), and its default alone when nothing in the file calls the
        function. None when that is not known."""
        got = self.definition(name)
        if isinstance(got, cst.BaseExpression):
            return [got]
        if got is not None:
            return None
        found = self.bindings(name.value, name)
        if found is None or len(found[1]) != 1 or found[1][0].kind != "param":
            return None
        param = found[1][0].value
        fn = self.enclosing(param, cst.FunctionDef)
        if fn is None:
            return None
        given = self.param_values(fn, name.value)
        if given is not None:
            return given
        if param.default is not None and not self.call_sites(fn):
            return [param.default]
        return None

    def _single(self, name: str, at: cst.CSTNode | Scope) -> cst.BaseExpression | None:
        """The value of `name` when its scope binds it exactly once, by a plain assignment."""
        found = self.bindings(name, at)
        if found is None:
            return None
        _, bindings = found
        if len(bindings) != 1 or bindings[0].kind not in ("assign", "alias", "none"):
            return None
        return bindings[0].value

    def reaching(self, use: cst.Name) -> cst.BaseExpression | None:
        """The right-hand side of the one assignment that reaches `use` in straight-line code:
        the nearest earlier `name = value` in the same block or an enclosing one of the same
        scope, with nothing that might rebind the name (a branch, a loop, an unpacking) between
        them. None when there is no such assignment."""
        name = use.value
        scope = self.scope_of(use)
        stmt = self.statement(use)
        current = stmt
        for outer in self.ancestors(stmt):
            if isinstance(outer, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                return None
            if isinstance(outer, (cst.For, cst.While)) and _assigns(outer, name) is not None:
                return None  # a later iteration sees what the loop body binds
            body = outer.body if isinstance(outer, (cst.IndentedBlock, cst.Module)) else None
            if body is not None:
                index = next((i for i, s in enumerate(body) if s is current), None)
                if index is not None:
                    for earlier in reversed(body[:index]):
                        got = _assigns(earlier, name)
                        if got is None:
                            continue
                        if got is False or self.scope_of(earlier) is not scope:
                            return None
                        return got
            current = outer
        return None

    # -- def-use ----------------------------------------------------------------------------

    def _function_of(self, node: cst.CSTNode) -> cst.CSTNode:
        return self.enclosing(node, (cst.FunctionDef, cst.Lambda)) or self.module

    def _outermost_function(self, node: cst.CSTNode) -> cst.CSTNode:
        """The outermost function or lambda holding `node` inside its class or module: nested
        defs and lambdas run within it (where they are referenced or handed on)."""
        found = None
        for outer in self.ancestors(node):
            if isinstance(outer, (cst.FunctionDef, cst.Lambda)):
                found = outer
            elif isinstance(outer, cst.ClassDef):
                break
        return found or self.module

    def uses(self, target: cst.Name) -> list[cst.Name]:
        """Loads of the name assigned at `target` that its value may reach: from the end of its
        statement until a statement that surely assigns the name again (in the same block, or
        an enclosing one, of the function), whose right-hand side still counts. An assignment
        inside a branch or a loop does not stop it: the value may survive that."""
        got = self._uses.get(id(target))
        if got is None:
            got = self._uses[id(target)] = self._may_reach(target)
        return list(got)

    def _may_reach(self, target: cst.Name) -> list[cst.Name]:
        function = self._function_of(target)
        body = self.body(function, frozenset())
        stmt = self.parent(target)
        while stmt is not None and not isinstance(stmt, (cst.BaseSmallStatement, cst.BaseCompoundStatement,
                                                          cst.NamedExpr, cst.CompFor)):
            stmt = self.parent(stmt)
        after = self.end(stmt if stmt is not None else target) + 1
        blocks = set()
        cap = None
        for outer in self.ancestors(self.statement(target)):
            if isinstance(outer, (cst.IndentedBlock, cst.Module)):
                blocks.add(id(outer))
                # `if a: x = ... else: x = ...` after the target surely assigns it again.
                for stmt in outer.body:
                    if isinstance(stmt, cst.If) and self.order(stmt) > after and _every_branch_assigns(stmt, target.value):
                        end = self.end(stmt)
                        cap = end if cap is None else min(cap, end)
            if outer is function:
                break
        found = body.references(target.value, after, killed=True, within=frozenset(blocks))
        return [ref for ref in found if cap is None or self.order(ref) <= cap]

    # -- call sites -------------------------------------------------------------------------

    def call_sites(self, function: cst.FunctionDef) -> list[cst.Call]:
        self._index()
        owner = self.parent(self.parent(function)) if self.parent(function) is not None else None
        name = function.name.value
        found = []
        if isinstance(owner, cst.ClassDef):  # a method: `self.name(...)` inside the class
            for call in self._calls.get(name, ()):
                func = call.func
                if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) \
                        and func.value.value in ("self", "cls") and self.enclosing(call, cst.ClassDef) is owner:
                    found.append(call)
            return found
        for call in self._calls.get(name, ()):
            if isinstance(call.func, cst.Name):
                got = self.bindings(name, call)
                if got is not None and len(got[1]) == 1 and got[1][0].value is function:
                    found.append(call)
        return found

    def param_values(self, function: cst.FunctionDef, name: str) -> list[cst.BaseExpression] | None:
        sites = self.call_sites(function)
        if not sites:
            return None
        params = function.params
        positional = [*params.posonly_params, *params.params]
        method = isinstance(self.parent(self.parent(function)), cst.ClassDef)
        if method and positional:
            positional = positional[1:]
        every = {p.name.value: p for p in (*positional, *params.kwonly_params)}
        if name not in every:
            return None
        param = every[name]
        index = next((i for i, p in enumerate(positional) if p is param), None)
        values = []
        for call in sites:
            got = None
            position = 0
            for arg in call.args:
                if arg.star:
                    return None
                if arg.keyword is not None:
                    if arg.keyword.value == name:
                        got = arg.value
                else:
                    if index is not None and position == index:
                        got = arg.value
                    position += 1
            if got is None:
                if param.default is None:
                    return None
                got = param.default
            values.append(got)
        return values

    # -- training gates ---------------------------------------------------------------------

    def body(self, fn: cst.CSTNode, flags: frozenset[str]) -> _Body:
        key = (id(fn), flags)
        got = self._bodies.get(key)
        if got is None:
            got = self._bodies[key] = _Body(self, fn, flags)
        return got

    def mentions_phase(self, expr: cst.CSTNode, flags: frozenset[str] = frozenset({"training"})) -> bool:
        return self.body(self._outermost_function(expr), flags).mentions(expr)

    def training_gated(self, node: cst.CSTNode, flags: frozenset[str] = frozenset({"training"}),
                       uses: bool = True, within: cst.CSTNode | None = None) -> bool:
        """Gated in the outermost function holding `node` (through nested defs, which run where
        they are referenced, and lambdas, which run where they are handed on), or in `within`."""
        body = self.body(within or self._outermost_function(node), flags)
        return body.gated(node, flow=uses)

    # -- loops -------------------------------------------------------------------------------

    def loops(self, node: cst.CSTNode) -> list[cst.CSTNode]:
        """The loops that run `node` once per iteration, innermost first, within its function:
        `for`/`while` statements whose body holds it, and comprehensions whose element,
        conditions or inner loops hold it. Not a `for`'s iterable or `else:` clause, a
        comprehension's first iterable (each evaluated once), nor the loops around a nested
        def, lambda or class (it runs where it is called)."""
        found: list[cst.CSTNode] = []
        path = [node]
        for outer in self.ancestors(node):
            if isinstance(outer, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                break
            inner = path[-1]
            if isinstance(outer, (cst.For, cst.While)) and inner is outer.body:
                found.append(outer)
            elif isinstance(outer, _COMPREHENSIONS) and not (
                    inner is outer.for_in and len(path) > 1 and path[-2] is outer.for_in.iter):
                found.append(outer)
            path.append(outer)
        return found

    def reads(self, expr: cst.CSTNode) -> set[str]:
        """The names `expr` loads (not attribute names after a dot, nor keyword names)."""
        skip: set[int] = set()
        found: set[str] = set()
        for node in walk(expr):
            if isinstance(node, cst.Attribute):
                skip.add(id(node.attr))
            elif isinstance(node, cst.Arg) and node.keyword is not None:
                skip.add(id(node.keyword))
            elif isinstance(node, cst.Name) and id(node) not in skip:
                found.add(node.value)
        return found

    def loop_names(self, loop: cst.CSTNode) -> frozenset[str]:
        """The names whose value changes from one iteration of `loop` to the next: the targets
        of a `for` or a comprehension, the names of a `while` test that its body rebinds, the
        targets of loops nested in the body, and every name the body assigns from an
        expression that reads one of them (through any number of assignments)."""
        got = self._loop_names.get(id(loop))
        if got is not None:
            return got
        assigns: list[tuple[set[str], cst.CSTNode | None]] = []  # (names bound, value read)
        region: list[cst.CSTNode] = []
        names: set[str] = set()
        if isinstance(loop, cst.For):
            names |= _target_names(loop.target)
            region = [loop.body]
        elif isinstance(loop, cst.While):
            region = [loop.body]
        elif isinstance(loop, _COMPREHENSIONS):
            part = loop.for_in
            while part is not None:
                names |= _target_names(part.target)
                region.extend(part.ifs)
                if part is not loop.for_in:
                    region.append(part.iter)
                part = part.inner_for_in
            region.extend(n for n in (getattr(loop, "elt", None), getattr(loop, "key", None),
                                      getattr(loop, "value", None)) if n is not None)
        for part in region:
            for node in walk(part, into_scopes=False):
                if isinstance(node, cst.Assign):
                    bound = set().union(*(_target_names(t.target) for t in node.targets))
                    assigns.append((bound, node.value))
                elif isinstance(node, (cst.AugAssign, cst.AnnAssign)) and node.value is not None:
                    assigns.append((_target_names(node.target), node.value))
                elif isinstance(node, cst.NamedExpr):
                    assigns.append((_target_names(node.target), node.value))
                elif isinstance(node, cst.For):
                    names |= _target_names(node.target)  # a nested loop's own variable
                elif isinstance(node, cst.WithItem) and node.asname is not None:
                    assigns.append((_target_names(node.asname.name), node.item))
        if isinstance(loop, cst.While):
            rebound = set().union(*(bound for bound, _ in assigns)) if assigns else set()
            names |= self.reads(loop.test) & rebound
        reads = [(bound, self.reads(value) if value is not None else set()) for bound, value in assigns]
        changed = True
        while changed:
            changed = False
            for bound, used in reads:
                if not bound <= names and used & names:
                    names |= bound
                    changed = True
        got = self._loop_names[id(loop)] = frozenset(names)
        return got

    def max_trips(self, loop: cst.CSTNode) -> int | None:
        """At most how many times `loop` runs its body, when the code says so: a `for` over
        `range()` of constants, a literal list or tuple, a slice `x[:k]` / `x[a:b]` with constant
        bounds, or `enumerate`/`zip`/`reversed`/`list`/`sorted` of one; None otherwise (and
        for every `while`)."""
        if isinstance(loop, cst.For):
            return self._trips(loop.iter, 0)
        if isinstance(loop, _COMPREHENSIONS):
            count = 1
            part = loop.for_in
            while part is not None:
                trips = self._trips(part.iter, 0)
                if trips is None:
                    return None
                count *= trips
                part = part.inner_for_in
            return count
        return None

    def _trips(self, expr: cst.BaseExpression, depth: int) -> int | None:
        if depth > 4:
            return None
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            if any(isinstance(el, cst.StarredElement) for el in expr.elements):
                return None
            return len(expr.elements)
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and not any(a.star for a in expr.args) \
                and self.bindings(expr.func.value, expr) is None:  # a builtin, not rebound
            name, args = expr.func.value, [a.value for a in expr.args if a.keyword is None]
            if name == "range" and 1 <= len(args) <= 3:
                bounds = [self.constant(a) for a in args]
                if all(isinstance(b, int) and not isinstance(b, bool) for b in bounds) and bounds[2:] != [0]:
                    return len(range(*bounds))
                return None
            if name in ("enumerate", "reversed", "list", "tuple", "sorted", "iter") and args:
                return self._trips(args[0], depth + 1)
            if name == "zip" and args:
                known = [t for t in (self._trips(a, depth + 1) for a in args) if t is not None]
                return min(known) if known else None
            return None
        if isinstance(expr, cst.Subscript) and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Slice):
            part = expr.slice[0].slice
            lower = self.constant(part.lower) if part.lower is not None else 0
            upper = self.constant(part.upper) if part.upper is not None else NOT_CONSTANT
            step = self.constant(part.step) if part.step is not None else 1
            if all(isinstance(v, int) and not isinstance(v, bool) for v in (lower, upper, step)) \
                    and lower >= 0 and upper >= 0 and step > 0:
                return len(range(lower, upper, step))
            return None
        if isinstance(expr, cst.Name):
            value = self.constant(expr)
            if isinstance(value, (list, tuple)):
                return len(value)
        return None

    def conditions(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        inner = node
        for outer in self.ancestors(node):
            if isinstance(outer, (cst.If, cst.While, cst.IfExp)) and inner is not outer.test:
                yield outer.test
            elif isinstance(outer, (cst.Try, cst.TryStar)) and inner is outer.body:
                yield outer
            elif isinstance(outer, (cst.FunctionDef, cst.ClassDef)):
                return
            inner = outer


    def expected_errors(self, node: cst.CSTNode) -> frozenset[str]:
        """The exception classes (last name: `ValueError`) that the code around `node` expects,
        up to its function: the handlers of each `try` whose body holds it (a bare `except`:
        `BaseException`), and the `with self.assertRaises(E)` / `pytest.raises(E)` blocks around
        it (a test that asserts the failure; an exception not written plainly: `BaseException`)."""
        names: set[str] = set()
        inner = node
        for outer in self.ancestors(node):
            if isinstance(outer, (cst.Try, cst.TryStar)) and inner is outer.body:
                for handler in outer.handlers:
                    names |= _exception_names(handler.type) if handler.type is not None else {"BaseException"}
            elif isinstance(outer, cst.With) and inner is outer.body:
                for item in outer.items:
                    call = item.item
                    if isinstance(call, cst.Call) and _last_name(call.func) in RAISES:
                        first = next((a.value for a in call.args if a.keyword is None and not a.star), None)
                        if first is None:
                            first = next((a.value for a in call.args if a.keyword is not None
                                          and a.keyword.value in ("expected_exception", "exception")), None)
                        names |= _exception_names(first) or {"BaseException"}
            elif isinstance(outer, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                break
            inner = outer
        return frozenset(names)


# unittest's and pytest's context managers that assert an exception.
RAISES = frozenset({"assertRaises", "assertRaisesRegex", "assertRaisesRegexp", "raises"})


def _exception_names(expr: cst.BaseExpression | None) -> set[str]:
    """`ValueError`, `errors.InvalidArgumentError`, `(A, b.B)` -> their last names; else none."""
    if isinstance(expr, cst.Tuple):
        return {n for el in expr.elements for n in _exception_names(el.value)}
    name = _last_name(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else None
    return {name} if name else set()


def _kids(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    from kerascheck.names import children

    return children(node)


def _assigns(stmt: cst.CSTNode, name: str):
    """Does `stmt` bind `name`? The value of a plain `name = value`; False for any other
    binding (augmented, unpacking, in a branch or loop, import, def); None when it does not."""
    if isinstance(stmt, cst.SimpleStatementLine):
        result = None
        for small in stmt.body:
            if isinstance(small, cst.Assign):
                for t in small.targets:
                    if isinstance(t.target, cst.Name) and t.target.value == name:
                        result = small.value if len(small.targets) == 1 else False
                    elif _binds(t.target, name):
                        result = False
                        items = unpacked(t.target, small.value) if len(small.targets) == 1 else None
                        for el, item in zip(t.target.elements if items is not None else (), items or ()):
                            if isinstance(el.value, cst.Name) and el.value.value == name:
                                result = item  # `a, b = 1, 2`
            elif isinstance(small, cst.AnnAssign) and _binds(small.target, name):
                result = small.value if isinstance(small.target, cst.Name) and small.value is not None else False
            elif isinstance(small, cst.AugAssign) and _binds(small.target, name):
                result = False
            elif isinstance(small, (cst.Import, cst.ImportFrom)):
                names = () if isinstance(small.names, cst.ImportStar) else small.names
                for alias in names:
                    bound = alias.asname.name if alias.asname else alias.name
                    while isinstance(bound, cst.Attribute):
                        bound = bound.value
                    if isinstance(bound, cst.Name) and bound.value == name:
                        result = False
            elif isinstance(small, (cst.Global, cst.Nonlocal)) and any(n.name.value == name for n in small.names):
                result = False
            elif _walrus_binds(small, name):
                result = False
        return result
    if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
        return False if stmt.name.value == name else None
    # A compound statement: any binding inside it (not in nested scopes) makes the value unknown.
    for node in walk(stmt, into_scopes=False):
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node is not stmt:
            if node.name.value == name:
                return False
        elif isinstance(node, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.CompFor,
                               cst.AsName, cst.NamedExpr)):
            target = getattr(node, "target", None) or getattr(node, "name", None)
            if target is not None and _binds(target, name):
                return False
        elif isinstance(node, (cst.Import, cst.ImportFrom)):
            if _assigns(cst.SimpleStatementLine(body=[node]), name) is not None:
                return False
    return None


_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


def _target_names(target: cst.CSTNode) -> set[str]:
    """The names an assignment (or loop) target binds: `i`, `(i, (x, y))`, `*rest`."""
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return set().union(*(_target_names(el.value) for el in target.elements)) if target.elements else set()
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return set()


def _every_branch_assigns(stmt: cst.If, name: str) -> bool:
    """Does every branch of an `if`/`elif`/`else` chain assign `name` in its own block?"""
    branch: cst.CSTNode | None = stmt
    while isinstance(branch, cst.If):
        if not _block_assigns(branch.body, name):
            return False
        branch = branch.orelse
    return isinstance(branch, cst.Else) and _block_assigns(branch.body, name)


def _block_assigns(block: cst.CSTNode, name: str) -> bool:
    body = block.body if isinstance(block, cst.IndentedBlock) else ()
    return any(isinstance(s, cst.SimpleStatementLine) and _assigns(s, name) not in (None, False) for s in body)


def _binds(target: cst.CSTNode, name: str) -> bool:
    if isinstance(target, cst.Name):
        return target.value == name
    if isinstance(target, (cst.Tuple, cst.List)):
        return any(_binds(el.value, name) for el in target.elements)
    if isinstance(target, cst.StarredElement):
        return _binds(target.value, name)
    return False


def _walrus_binds(small: cst.CSTNode, name: str) -> bool:
    return any(isinstance(n, cst.NamedExpr) and _binds(n.target, name) for n in walk(small, into_scopes=False))


class _Body:
    """A function (FunctionDef or Lambda, or the module) with its flag names and source order."""

    def __init__(self, flow: Flow, node: cst.CSTNode, flags: frozenset[str]) -> None:
        self.flow = flow
        self.node = node
        self.names: list[cst.Name] = []
        assigns: list[tuple[cst.BaseExpression, cst.BaseExpression]] = []
        for current in walk(node):
            if isinstance(current, cst.Name):
                self.names.append(current)
            elif isinstance(current, cst.Assign):
                assigns.extend((t.target, current.value) for t in current.targets)
            elif isinstance(current, (cst.AnnAssign, cst.AugAssign)) and current.value is not None:
                assigns.append((current.target, current.value))
            elif isinstance(current, cst.NamedExpr):
                assigns.append((current.target, current.value))
        self.memo: dict[tuple[int, bool], bool] = {}
        # The flag's names: the given ones, plus every name computed from a phase expression.
        self.flags = set(flags)
        changed = True
        while changed:
            changed = False
            for target, value in assigns:
                if isinstance(target, cst.Name) and target.value not in self.flags and self.mentions(value, True):
                    self.flags.add(target.value)
                    changed = True

    def mentions(self, expr: cst.CSTNode, deriving: bool = False) -> bool:
        """Does `expr` mention the training phase?"""
        stack = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.Name):
                if node.value in self.flags or phase_word(node.value):
                    return True
            elif isinstance(node, cst.Attribute):
                if phase_word(node.attr.value):
                    return True
                stack.append(node.value)
                continue
            elif isinstance(node, cst.SimpleString):
                text = node.evaluated_value
                if isinstance(text, str) and text.isidentifier() and phase_word(text):
                    return True
            elif deriving and isinstance(node, cst.Arg) and node.keyword is not None \
                    and node.keyword.value == "training":
                # `h = self.block(x, training=training)` does not make `h` a flag.
                continue
            stack.extend(_kids(node))
        return False

    def references(self, name: str, after: int, exclude: cst.CSTNode | None = None,
                   killed: bool = False, within: frozenset[int] | None = None) -> list[cst.Name]:
        """Loads of `name` from walk position `after` on; with `killed`, only until the
        statement that next assigns it a new value (its own right-hand side included); with
        `within` (ids of blocks), only an assignment whose statement sits in one of them kills."""
        flow = self.flow
        inside = {id(n) for n in walk(exclude)} if exclude is not None else set()
        until = None
        if killed:
            for ref in self.names:  # in walk order: the first assignment that kills ends first
                if ref.value == name and flow.order(ref) >= after and isinstance(flow.parent(ref), cst.AssignTarget):
                    stmt = flow.parent(flow.parent(ref))
                    if within is not None and id(flow.parent(flow.statement(ref))) not in within:
                        continue  # in a branch or loop: the value may survive it
                    until = flow.end(stmt) if stmt is not None else flow.order(ref)
                    break
        found = []
        for ref in self.names:
            if ref.value != name or flow.order(ref) < after or id(ref) in inside:
                continue
            if until is not None and flow.order(ref) > until:
                continue
            parent = flow.parent(ref)
            if isinstance(parent, (cst.FunctionDef, cst.ClassDef, cst.AssignTarget, cst.Param)) or (
                    isinstance(parent, (cst.AugAssign, cst.AnnAssign, cst.NamedExpr)) and parent.target is ref) or (
                    isinstance(parent, cst.Attribute) and parent.attr is ref):
                continue
            found.append(ref)
        return found

    def _early_exit(self, stmt: cst.CSTNode) -> bool:
        if not isinstance(stmt, cst.If) or not self.mentions(stmt.test):
            return False
        return any(isinstance(n, (cst.Return, cst.Raise)) for n in walk(stmt, into_scopes=False))

    def gated(self, node: cst.CSTNode, depth: int = 0, flow: bool = True) -> bool:
        """Is `node` only evaluated (or, with `flow`, only used) when the model trains?"""
        key = (id(node), flow)
        if key in self.memo:
            return self.memo[key]
        if depth > MAX_FLOW:
            return True  # unsure: stay silent
        self.memo[key] = True  # a cycle through a loop adds nothing
        result = self._gated(node, depth, flow)
        self.memo[key] = result
        return result

    def _gated(self, node: cst.CSTNode, depth: int, flow: bool) -> bool:
        tree = self.flow
        cur = node
        while cur is not self.node:
            par = tree.parent(cur)
            if par is None:
                return True
            if isinstance(par, (cst.If, cst.While, cst.IfExp)) and cur is not par.test and self.mentions(par.test):
                return True
            if isinstance(par, cst.BooleanOperation) and cur is par.right and self.mentions(par.left):
                return True
            if isinstance(par, cst.Expr) and cur is par.value and cur is node:
                return True  # `tf.nn.dropout(x, 0.5)` as a statement: its result is thrown away
            if isinstance(par, cst.Arg):
                call = tree.parent(par)
                if isinstance(call, cst.Call):
                    name = _last_name(call.func)
                    if name in _PHASE_CALLS:
                        return True
                    if name in _SELECTORS and any(self.mentions(a.value) for a in call.args):
                        return True
            if isinstance(par, cst.IndentedBlock):
                for stmt in par.body:
                    if stmt is cur:
                        break
                    if self._early_exit(stmt):
                        return True
            if isinstance(cur, cst.FunctionDef):
                # A nested function runs where it is referenced.
                refs = self.references(cur.name.value, 0, exclude=cur)
                if all(self.gated(r, depth + 1, flow) for r in refs):
                    return True
            if flow and isinstance(par, (cst.Assign, cst.AugAssign, cst.AnnAssign)) and cur is par.value:
                targets = [t.target for t in par.targets] if isinstance(par, cst.Assign) else [par.target]
                if len(targets) == 1 and isinstance(targets[0], cst.Name):
                    stmt = tree.parent(par) or par
                    refs = self.references(targets[0].value, tree.end(stmt) + 1, killed=True)
                    # Gated if every later use is (an unused result changes nothing).
                    if all(self.gated(r, depth + 1) for r in refs):
                        return True
            cur = par
        return False
