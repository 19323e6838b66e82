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

from kerascheck.names import Names, Scope, walk


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
    if isinstance(expr, (cst.Integer, cst.Float, cst.Imaginary)):
        try:
            return expr.evaluated_value
        except (ValueError, OverflowError):
            return NOT_CONSTANT
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
        self._bodies: dict[tuple[int, frozenset[str]], _Body] = {}

    # -- tree -------------------------------------------------------------------------------

    def _index(self) -> dict[int, cst.CSTNode]:
        if self._parent is None:
            parent: dict[int, cst.CSTNode] = {}
            order = self._order
            calls: dict[str, list[cst.Call]] = {}
            for index, node in enumerate(walk(self.module, parents=parent)):
                order[id(node)] = index
                if type(node) is cst.Call:
                    name = _last_name(node.func)
                    if name is not None:
                        calls.setdefault(name, []).append(node)
            self._parent = parent
            self._calls = calls
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
                return NOT_CONSTANT
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
        """Loads of the name assigned at `target`, from the end of its statement until the
        statement that next assigns the name (whose right-hand side still counts)."""
        body = self.body(self._function_of(target), frozenset())
        stmt = self.parent(target)
        while stmt is not None and not isinstance(stmt, (cst.BaseSmallStatement, cst.BaseCompoundStatement,
                                                          cst.NamedExpr, cst.CompFor)):
            stmt = self.parent(stmt)
        after = self.end(stmt if stmt is not None else target) + 1
        return body.references(target.value, after, killed=True)

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
                   killed: bool = False) -> list[cst.Name]:
        """Loads of `name` from walk position `after` on; with `killed`, only until the
        statement that next assigns it a new value (its own right-hand side included)."""
        flow = self.flow
        inside = {id(n) for n in walk(exclude)} if exclude is not None else set()
        until = None
        if killed:
            for ref in self.names:
                if ref.value == name and flow.order(ref) >= after and isinstance(flow.parent(ref), cst.AssignTarget):
                    stmt = flow.parent(flow.parent(ref))
                    end = flow.end(stmt) if stmt is not None else flow.order(ref)
                    until = end if until is None else min(until, end)
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
