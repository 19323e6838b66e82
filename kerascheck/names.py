"""What names really are: the file's own import table, scope by scope.

`tf.keras.layers.Dropout`, `keras.layers.Dropout`, `tf_keras.layers.Dropout`,
`from tensorflow.keras.layers import Dropout as Drop` and `L = keras.layers`
followed by `L.Dropout` all resolve to the canonical `keras.layers.Dropout`;
the Keras *flavor* (`keras`, `tf.keras`, `tf_keras`, ...) is kept beside it.

A name bound in a scope by anything but imports (or aliases) that agree is
not provable, and resolves to None: rules stay silent on it.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

import libcst as cst

# Module prefixes that are Keras, longest first, with the flavor they stand for.
KERAS_ROOTS: tuple[tuple[str, str], ...] = (
    ("tensorflow.compat.v2.keras", "tf.keras"),
    ("tensorflow.compat.v1.keras", "tf.keras"),
    ("tensorflow.python.keras", "tf.python.keras"),
    ("tensorflow.contrib.keras", "tf.python.keras"),
    ("keras._tf_keras.keras", "tf.keras"),
    ("tensorflow.keras", "tf.keras"),
    ("tf_keras.src", "tf_keras"),
    ("keras.src", "keras"),
    ("keras.api", "keras"),
    ("tf_keras", "tf_keras"),
    ("keras", "keras"),
)
# Segments of Keras-internal module paths that the public API does not have.
_INTERNAL = frozenset({"src", "api", "_v1", "_v2", "python", "engine", "core", "legacy"})
_TOP_LEVEL = frozenset({"Sequential", "Model", "Input", "Functional", "InputLayer"})
_NAMESPACES = ("layers", "constraints", "initializers", "ops", "random", "backend",
               "regularizers", "activations", "optimizers", "losses", "metrics", "models",
               "applications", "callbacks", "utils", "mixed_precision", "saving")


@dataclass(frozen=True)
class Canon:
    """A resolved name: canonical dotted path and the Keras flavor it came from."""

    name: str
    flavor: str | None = None  # None: not Keras; "mixed": bound to two Keras libraries

    @property
    def short(self) -> str:
        return self.name.rsplit(".", 1)[-1]


def keras_relative(raw: str) -> tuple[str, str] | None:
    """(flavor, the path below the Keras root as written) for a raw dotted path under a Keras
    root: `tensorflow.keras.layers.merge.concatenate` -> ("tf.keras", "layers.merge.concatenate");
    None for a path outside Keras."""
    for root, flavor in KERAS_ROOTS:
        if raw == root or raw.startswith(root + "."):
            return flavor, raw[len(root) + 1 :]
    return None


@lru_cache(maxsize=4096)
def canonical(raw: str) -> Canon:
    """Map a raw dotted path to its canonical public name."""
    if raw.startswith("tensorflow.compat.v2.") and not raw.startswith("tensorflow.compat.v2.keras"):
        raw = "tensorflow." + raw[len("tensorflow.compat.v2.") :]
    for root, flavor in KERAS_ROOTS:
        if raw == root or raw.startswith(root + "."):
            rest = [s for s in raw[len(root) + 1 :].split(".") if s]
            return Canon(_public(rest), flavor)
    return Canon(raw, None)


def keras_class_kind_of(canon: Canon) -> str | None:
    """The kind of Keras class a canonical name is: "layer" | "model" | "constraint" | None."""
    name = canon.name
    if name.startswith("keras.constraints."):
        return "constraint"
    if name in ("keras.Model", "keras.Sequential", "keras.Functional"):
        return "model"
    if name.startswith("keras.layers.") and canon.short[:1].isupper() and canon.short not in ("Input", "InputSpec"):
        return "layer"
    return None


def _public(segments: list[str]) -> str:
    if not segments:
        return "keras"
    last = segments[-1]
    if last in _TOP_LEVEL and len(segments) > 1 and segments[0] in ("models", "layers", "engine", "src"):
        return "keras." + ("Input" if last == "InputLayer" and segments[0] == "engine" else last)
    for i, seg in enumerate(segments):
        if seg in _NAMESPACES and (i == 0 or all(s in _INTERNAL for s in segments[:i])):
            tail = segments[i + 1 :]
            if seg == "layers" and last == "Input":
                return "keras.Input"
            if not tail:
                return "keras." + seg
            if seg in ("models",) and last in _TOP_LEVEL:
                return "keras." + last
            # keras.src.layers.regularization.dropout.Dropout -> keras.layers.Dropout
            return f"keras.{seg}.{tail[-1]}" if len(tail) > 1 else f"keras.{seg}.{tail[0]}"
    kept = [s for s in segments if s not in _INTERNAL]
    return "keras." + ".".join(kept or segments)


def absolute(module: str | None, level: int, package: str | None) -> str | None:
    """`from ..a import b`: the absolute module that `..a` names from `package` (None when
    the package is not known or the import goes above its top)."""
    if not level:
        return module
    if package is None:
        return None
    parts = package.split(".") if package else []
    if level - 1 >= len(parts):
        return None  # beyond the top-level package (ImportError in Python)
    base = parts[: len(parts) - (level - 1)]
    if module:
        base.append(module)
    return ".".join(base) or None


# ---------------------------------------------------------------- scopes


@dataclass
class Binding:
    """One way a scope binds a name.

    kind: "import" | "alias" (`L = keras.layers`) | "none" (`x = None`) | "assign" (any other
    single-target assignment; `value` is its right-hand side) | "def" (a function or class
    statement; `value` is the statement) | "param" (a function's parameter; `value` is the
    `cst.Param`) | "other" (`*args` / `**kwargs`, loop targets, unpacking,
    augmented assignment, `with ... as`, `except ... as`: no single value).
    """

    kind: str
    path: str = ""  # for imports: the raw dotted module path it binds
    expr: cst.BaseExpression | None = None  # for aliases
    value: cst.CSTNode | None = None  # for "assign" and "def"


@dataclass(eq=False)
class Scope:
    node: cst.CSTNode
    kind: str  # "module" | "function" | "class" | "lambda" | "comprehension"
    parent: Scope | None
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)
    declared_global: set[str] = field(default_factory=set)  # `global x`
    declared_nonlocal: set[str] = field(default_factory=set)  # `nonlocal x`

    def __repr__(self) -> str:
        return f"Scope({self.kind}, {sorted(self.bindings)[:8]})"

    def target(self, name: str) -> Scope:
        """The scope an assignment to `name` in this scope binds in (`global`/`nonlocal`)."""
        if name in self.declared_global:
            scope = self
            while scope.parent is not None:
                scope = scope.parent
            return scope
        if name in self.declared_nonlocal:
            scope = self.parent
            while scope is not None:
                if scope.kind == "function" and name in scope.bindings:
                    return scope
                scope = scope.parent
        return self

    def bind(self, name: str, binding: Binding) -> None:
        self.target(name).bindings.setdefault(name, []).append(binding)

    def function(self) -> Scope:
        """The scope a walrus in this scope binds in: comprehensions are skipped (PEP 572)."""
        scope = self
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
        return scope


def blocks(stmt: cst.CSTNode) -> list[cst.CSTNode]:
    """The suites and clauses directly inside a compound statement, in source order.

    (libcst's `.children` builds every child, expressions and whitespace included:
    far slower on the hot path than reading the few fields that hold statements.)
    """
    out: list[cst.CSTNode] = []
    body = getattr(stmt, "body", None)
    if isinstance(body, (cst.IndentedBlock, cst.SimpleStatementSuite)):
        out.append(body)
    out.extend(getattr(stmt, "handlers", ()))
    out.extend(getattr(stmt, "cases", ()))
    for name in ("orelse", "finalbody"):
        part = getattr(stmt, name, None)
        if part is not None:
            out.append(part)
    return out


_FIELDS: dict[type, tuple[str, ...]] = {}  # per node class: the fields that can hold a node
_LEAVES: set[type] = set()  # node classes with no such field (whitespace, newlines, comments)
_IS_NODE: dict[type, bool] = {}  # isinstance(x, CSTNode) by type: an ABC check is slow on the hot path
_PLAIN = (str, bool, int, float, type(None))


def _plain(annotation) -> bool:
    """A field type that never holds a node: str, bool, a Literal, Optional[str], ..."""
    if annotation in _PLAIN:
        return True
    origin = typing.get_origin(annotation)
    return origin is typing.Literal or (origin is typing.Union and all(_plain(a) for a in typing.get_args(annotation)))


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """A node's children, read from its dataclass fields (in no particular order).

    Many times faster than libcst's `.children`, which re-visits the node to build them.
    """
    names = _FIELDS.get(type(node))
    if names is None:
        names = _FIELDS[type(node)] = tuple(f.name for f in dataclasses.fields(node) if not _plain(f.type))
        if not names:
            _LEAVES.add(type(node))
    out = []
    is_node = _IS_NODE
    for name in names:
        value = getattr(node, name)
        kind = type(value)
        for item in (value if kind is tuple or kind is list else (value,)):
            kind = type(item)
            flag = is_node.get(kind)
            if flag is None:
                flag = is_node[kind] = isinstance(item, cst.CSTNode)
            if flag:
                out.append(item)
    return out


SCOPE_NODES = (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.ListComp, cst.SetComp, cst.DictComp,
               cst.GeneratorExp)
_SCOPE_TYPES = frozenset(SCOPE_NODES)  # libcst's node classes are final: a set lookup, not an ABC check


def walk(node: cst.CSTNode, into_scopes: bool = True, parents: dict | None = None) -> Iterator[cst.CSTNode]:
    """`node` and every node below it, parents before children (the one tree walker).

    With `into_scopes=False` the walk yields nested functions, classes, lambdas and
    comprehensions but does not enter them. `parents`, when given, receives
    id(child) -> parent for every node the walk enters.
    """
    stack = [node]
    leaves = _LEAVES
    while stack:
        current = stack.pop()
        yield current
        if type(current) in leaves or (not into_scopes and current is not node and type(current) in _SCOPE_TYPES):
            continue
        kids = children(current)
        if parents is not None:
            for kid in kids:
                parents[id(kid)] = current
        kids.reverse()
        stack.extend(kids)


def walk_statements(body) -> Iterator[cst.CSTNode]:
    """Every statement (and clause) in `body`, nested ones included, in source order."""
    stack = list(reversed(body))
    while stack:
        node = stack.pop()
        yield node
        for part in reversed(blocks(node)):
            if isinstance(part, cst.IndentedBlock):
                stack.extend(reversed(part.body))
            elif not isinstance(part, cst.SimpleStatementSuite):
                stack.append(part)  # else / finally / except / case / elif


def _dotted(expr: cst.BaseExpression) -> str | None:
    parts = []
    while isinstance(expr, cst.Attribute):
        parts.append(expr.attr.value)
        expr = expr.value
    if isinstance(expr, cst.Name):
        parts.append(expr.value)
        return ".".join(reversed(parts))
    return None


def _is_aliasable(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, (cst.Name, cst.Attribute)) and _dotted(expr) is not None


def unpacked(target: cst.BaseExpression, value: cst.BaseExpression | None) -> list[cst.BaseExpression] | None:
    """The items a tuple/list target takes from a tuple/list display of the same length, with
    no starred element on either side; None for any other assignment."""
    if not isinstance(target, (cst.Tuple, cst.List)) or not isinstance(value, (cst.Tuple, cst.List)):
        return None
    if len(target.elements) != len(value.elements) or any(
            isinstance(el, cst.StarredElement) for el in (*target.elements, *value.elements)):
        return None
    return [el.value for el in value.elements]


@dataclass(frozen=True, eq=False)
class ImportRecord:
    """One name an import statement imports, as written: `path` is the whole dotted path
    (`keras.layers.merge.concatenate` for `from keras.layers.merge import concatenate`,
    `keras.utils.np_utils` for `import keras.utils.np_utils`), `node` the `ImportAlias`,
    `statement` the `Import`/`ImportFrom`, `scope` where it binds."""

    path: str
    node: cst.ImportAlias
    statement: cst.Import | cst.ImportFrom
    scope: Scope


class _Binder:
    """Collects every scope's bindings in one walk over statements."""

    def __init__(self, module: cst.Module, walrus: bool = True, package: str | None = None) -> None:
        self.walrus = walrus  # False when the text has no `:=`: no expression needs scanning
        self.package = package  # the file's package, for relative imports (None: not known)
        self.scopes: dict[cst.CSTNode, Scope] = {}
        self.imports: list[ImportRecord] = []
        root = Scope(module, "module", None)
        self.scopes[module] = root
        self.block(module.body, root)

    def block(self, body, scope: Scope) -> None:
        for stmt in body:
            self.stmt(stmt, scope)

    def targets(self, target: cst.BaseExpression, scope: Scope, value=None) -> None:
        if isinstance(target, cst.Name):
            if value is not None and isinstance(value, cst.Name) and value.value == "None":
                scope.bind(target.value, Binding("none", value=value))
            elif value is not None and _is_aliasable(value):
                scope.bind(target.value, Binding("alias", expr=value, value=value))
            elif value is not None:
                scope.bind(target.value, Binding("assign", value=value))
            else:
                scope.bind(target.value, Binding("other"))
        elif isinstance(target, (cst.Tuple, cst.List)):
            # `a, b = 1, 2` binds each name to its own item; any other unpacking to no one value.
            items = unpacked(target, value)
            for i, el in enumerate(target.elements):
                self.targets(el.value, scope, items[i] if items is not None else None)
        elif isinstance(target, cst.StarredElement):
            self.targets(target.value, scope)

    def stmt(self, stmt: cst.CSTNode, scope: Scope) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self.small(small, scope)
        elif isinstance(stmt, cst.FunctionDef):
            scope.bind(stmt.name.value, Binding("def", value=stmt))
            inner = Scope(stmt, "function", scope)
            self.scopes[stmt] = inner
            params = stmt.params
            for p in (*params.posonly_params, *params.params, *params.kwonly_params):
                inner.bind(p.name.value, Binding("param", value=p))
            for p in (params.star_arg, params.star_kwarg):
                if isinstance(p, cst.Param):
                    inner.bind(p.name.value, Binding("other"))
            self.suite(stmt.body, inner)
        elif isinstance(stmt, cst.ClassDef):
            scope.bind(stmt.name.value, Binding("def", value=stmt))
            inner = Scope(stmt, "class", scope)
            self.scopes[stmt] = inner
            self.suite(stmt.body, inner)
        else:
            if self.walrus:  # `if (m := re.match(...)):`, `while (x := f()):`
                for name in ("test", "iter", "items", "subject"):
                    part = getattr(stmt, name, None)
                    for item in (part if isinstance(part, (list, tuple)) else (part,)):
                        if isinstance(item, cst.CSTNode):
                            for node in walk(item, into_scopes=False):
                                if isinstance(node, cst.NamedExpr) and isinstance(node.target, cst.Name):
                                    scope.function().bind(node.target.value, Binding("other"))
            if isinstance(stmt, cst.For):
                self.targets(stmt.target, scope)
            elif isinstance(stmt, cst.With):
                for item in stmt.items:
                    if item.asname is not None:
                        self.targets(item.asname.name, scope)
            elif isinstance(stmt, (cst.Try, cst.TryStar)):
                for handler in stmt.handlers:
                    if handler.name is not None:
                        self.targets(handler.name.name, scope)
            for child in blocks(stmt):
                if isinstance(child, (cst.IndentedBlock, cst.SimpleStatementSuite)):
                    self.suite(child, scope)
                elif isinstance(child, (cst.Else, cst.Finally, cst.ExceptHandler, cst.ExceptStarHandler, cst.If)):
                    self.stmt(child, scope)
                elif isinstance(child, cst.MatchCase):
                    self.suite(child.body, scope)

    def suite(self, suite, scope: Scope) -> None:
        if isinstance(suite, cst.IndentedBlock):
            self.block(suite.body, scope)
        elif isinstance(suite, cst.SimpleStatementSuite):
            for small in suite.body:
                self.small(small, scope)

    def small(self, small: cst.CSTNode, scope: Scope) -> None:
        if self.walrus:
            for node in walk(small, into_scopes=False):
                if isinstance(node, cst.NamedExpr) and isinstance(node.target, cst.Name):
                    scope.function().bind(node.target.value, Binding("other"))
        if isinstance(small, cst.Global):
            scope.declared_global.update(n.name.value for n in small.names)
        elif isinstance(small, cst.Nonlocal):
            scope.declared_nonlocal.update(n.name.value for n in small.names)
        elif isinstance(small, cst.Import):
            for alias in small.names:
                full = _dotted(alias.name) or ""
                self.imports.append(ImportRecord(full, alias, small, scope))
                if alias.asname is not None:
                    scope.bind(alias.asname.name.value, Binding("import", full))
                else:
                    head = full.split(".")[0]
                    scope.bind(head, Binding("import", head))
        elif isinstance(small, cst.ImportFrom):
            if small.relative:
                # `from .a import b`: absolute from the file's package, when it is known.
                module = absolute(_dotted(small.module) if small.module is not None else None,
                                  len(small.relative), self.package)
            else:
                module = _dotted(small.module) if small.module is not None else None
            if module is None:
                names = [] if isinstance(small.names, cst.ImportStar) else small.names
                for alias in names:
                    bound = alias.asname.name if alias.asname else alias.name
                    if isinstance(bound, cst.Name):
                        scope.bind(bound.value, Binding("other"))
                return
            if isinstance(small.names, cst.ImportStar):
                scope.stars.append(module)
                return
            for alias in small.names:
                name = _dotted(alias.name) or ""
                self.imports.append(ImportRecord(f"{module}.{name}", alias, small, scope))
                bound = alias.asname.name if alias.asname else alias.name
                if isinstance(bound, cst.Name):
                    scope.bind(bound.value, Binding("import", f"{module}.{name}"))
        elif isinstance(small, cst.Assign):
            for t in small.targets:
                self.targets(t.target, scope, small.value if len(small.targets) == 1 else None)
        elif isinstance(small, cst.AnnAssign):
            self.targets(small.target, scope, small.value)
        elif isinstance(small, cst.AugAssign):
            self.targets(small.target, scope)


# Names a star import from these Keras modules can provide.
_STAR_MODELS = frozenset({"Sequential", "Model", "load_model", "clone_model", "save_model", "model_from_json"})


class Names:
    """Resolves expressions to canonical names, from the file's own bindings.

    With a `project` (a `project.View`), relative imports bind absolute paths (from the file's
    package), and a name the project defines or re-exports resolves to its defining path (a
    library name re-exported by a project module to the library's own path). `globals`, for a
    module of the project parsed in part (`picture` loads other modules' definitions so), gives
    the dotted paths a module-level name its text does not bind stands for (None: not defined there).
    """

    def __init__(self, module: cst.Module, walrus: bool = True, project=None, globals=None) -> None:
        self.module = module
        self.project = project
        self.globals = globals
        binder = _Binder(module, walrus, project.package if project is not None else None)
        self.scopes = binder.scopes
        self.root = self.scopes[module]
        self.import_records: tuple[ImportRecord, ...] = tuple(binder.imports)
        self._resolved: dict[tuple[int, int], tuple] = {}

    def scope_of(self, node: cst.CSTNode) -> Scope:
        """The scope a function or class statement opens (the module scope for anything else)."""
        return self.scopes.get(node, self.root)

    def enclosing_scope(self, node: cst.CSTNode, flow) -> Scope:
        """The innermost scope that holds `node`: a function's body, a class body, a lambda or a
        comprehension (their scopes are made on first use). A function's parameter defaults,
        decorators and annotations, and a class's bases, belong to the scope around it."""
        inner = node
        for outer in flow.ancestors(node):
            if isinstance(outer, (cst.FunctionDef, cst.ClassDef)):
                if inner is outer.body:
                    return self.scopes.get(outer) or self.enclosing_scope(outer, flow)
            elif isinstance(outer, cst.Lambda):
                if inner is outer.body:
                    return self._lambda_scope(outer, flow)
            elif isinstance(outer, (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
                # The first iterable is evaluated in the enclosing scope (PEP 289).
                if self._in_first_iter(outer, node, flow):
                    return self.enclosing_scope(outer, flow)
                return self._comp_scope(outer, flow)
            inner = outer
        return self.root

    @staticmethod
    def _in_first_iter(comp, node, flow) -> bool:
        first = comp.for_in.iter
        current = node
        while current is not None and current is not comp:
            if current is first:
                return True
            current = flow.parent(current)
        return False

    def _lambda_scope(self, lam: cst.Lambda, flow) -> Scope:
        scope = self.scopes.get(lam)
        if scope is None:
            scope = Scope(lam, "lambda", self.enclosing_scope(lam, flow))
            p = lam.params
            for param in (*p.posonly_params, *p.params, *p.kwonly_params):
                scope.bindings.setdefault(param.name.value, []).append(Binding("other"))
            for param in (p.star_arg, p.star_kwarg):
                if isinstance(param, cst.Param):
                    scope.bindings.setdefault(param.name.value, []).append(Binding("other"))
            self.scopes[lam] = scope
        return scope

    def _comp_scope(self, comp, flow) -> Scope:
        scope = self.scopes.get(comp)
        if scope is None:
            scope = Scope(comp, "comprehension", self.enclosing_scope(comp, flow))
            part = comp.for_in
            while part is not None:
                for node in walk(part.target):
                    if isinstance(node, cst.Name):
                        scope.bindings.setdefault(node.value, []).append(Binding("other"))
                part = part.inner_for_in
            self.scopes[comp] = scope
        return scope

    def imports(self) -> set[str]:
        """Every module path the file imports, in any scope."""
        found: set[str] = set()
        for scope in self.scopes.values():
            found.update(scope.stars)
            for bindings in scope.bindings.values():
                found.update(b.path for b in bindings if b.kind == "import")
        return found

    def bound_anywhere(self, name: str) -> bool:
        """Does any scope of the file bind `name` (or may a star import)?"""
        return any(name in scope.bindings for scope in self.scopes.values()) or any(
            scope.stars for scope in self.scopes.values())

    # -- resolution --------------------------------------------------------

    def _lookup(self, name: str, scope: Scope, depth: int) -> frozenset[str] | None:
        found = self.lookup_bindings(name, scope)
        if found is None:
            star = self._star(name)
            if star is None and self.globals is not None:
                paths = self.globals(name)
                return frozenset(paths) if paths else None
            return star
        return self._from_bindings(found[1], found[0], depth)

    def lookup_bindings(self, name: str, scope: Scope) -> tuple[Scope, list[Binding]] | None:
        """The scope whose bindings a load of `name` in `scope` sees, and those bindings."""
        current: Scope | None = scope
        first = True
        while current is not None:
            if name in current.declared_global and current.parent is not None:
                current = self.root
                continue
            # Class bodies do not enclose their methods (Python's scoping rule).
            if current.kind != "class" or first:
                if name in current.bindings:
                    return current, current.bindings[name]
            first = False
            current = current.parent
        return None

    def _from_bindings(self, bindings: list[Binding], scope: Scope, depth: int) -> frozenset[str] | None:
        raws: set[str] = set()
        for b in bindings:
            if b.kind == "none":
                continue
            if b.kind == "import":
                raws.add(b.path)
            elif b.kind == "alias" and depth < 8:
                got = self._raw(b.expr, scope, depth + 1)
                if got is None:
                    return None
                raws.update(got)
            else:
                return None
        return frozenset(raws) or None

    def _star(self, name: str) -> frozenset[str] | None:
        stars = self.root.stars
        if not stars:
            return None
        raws = set()
        for module in stars:
            canon = canonical(module).name
            if canon == "keras.models" and name not in _STAR_MODELS:
                continue
            raws.add(f"{module}.{name}")
        return frozenset(raws) or None

    def _raw(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0) -> frozenset[str] | None:
        dotted = _dotted(expr)
        if dotted is None:
            return None
        head, _, tail = dotted.partition(".")
        bases = self._lookup(head, scope, depth)
        if bases is None:
            return None
        return frozenset(f"{b}.{tail}" if tail else b for b in bases)

    def spelled(self, expr: cst.BaseExpression, scope: Scope) -> frozenset[str] | None:
        """The raw dotted paths `expr` stands for, as the imports wrote them (before they are made
        canonical): `keras.layers.merge.concatenate` where `resolve` says `keras.layers.concatenate`."""
        return self._raw(expr, scope)

    def spell(self, target: str, scope: Scope, flavors: frozenset[str] = frozenset({"keras", "tf.keras"})) -> str | None:
        """The shortest expression that names the canonical `target` (`keras.ops`) at `scope`
        through the file's own imports (`ops`, `keras.ops`, `tf.keras.ops`), or None."""
        forms = [target]
        if target == "keras" or target.startswith("keras."):
            rest = target[len("keras"):]
            forms = [root + rest for root, flavor in KERAS_ROOTS
                     if flavor in flavors and root not in ("keras.src", "keras.api", "tf_keras.src")]
        found: list[str] = []
        current: Scope | None = scope
        seen: set[str] = set()
        while current is not None:
            for name, bindings in current.bindings.items():
                if name in seen:
                    continue
                seen.add(name)  # an inner binding hides the outer ones
                if not bindings or any(b.kind != "import" for b in bindings):
                    continue
                for path in {b.path for b in bindings}:
                    for form in forms:
                        if form == path or form.startswith(path + "."):
                            found.append(name + form[len(path):])
            current = current.parent
        keras = target == "keras" or target.startswith("keras.")
        wanted = canonical(target).name
        for text in sorted(found, key=lambda t: (len(t), t)):
            canon = self.resolve(cst.parse_expression(text), scope)
            if canon is not None and canon.name == wanted and (canon.flavor in flavors if keras else canon.flavor is None):
                return text
        return None

    def resolve(self, expr: cst.BaseExpression, scope: Scope) -> Canon | None:
        """The canonical name of `expr` (a Name or an Attribute chain), or None. Memoised per
        (node, scope): the scopes do not change once built, and the interpreter asks again for
        each call of a helper it inlines."""
        key = (id(expr), id(scope))
        hit = self._resolved.get(key)
        if hit is not None and hit[0] is expr and hit[1] is scope:
            return hit[2]
        canon = self._resolve(expr, scope)
        self._resolved[key] = (expr, scope, canon)  # holds expr and scope: their ids stay theirs
        return canon

    def _resolve(self, expr: cst.BaseExpression, scope: Scope) -> Canon | None:
        raws = self._raw(expr, scope)
        if not raws:
            return None
        if self.project is not None:
            raws = {self.project.resolve_raw(r) for r in raws}
        canons = {canonical(r) for r in raws}
        names = {c.name for c in canons}
        if len(names) != 1:
            return None
        flavors = {c.flavor for c in canons}
        return Canon(names.pop(), flavors.pop() if len(flavors) == 1 else "mixed")
