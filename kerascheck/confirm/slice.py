"""The slice of a file that confirm mode may execute (TensorFlow-free; runs in the lint worker).

Confirm mode never runs a file's module-level code. It runs a *slice*: the top-level imports and
the top-level definitions that the flagged code uses (transitively), plus constant assignments
such as `RATE = 0.5` or `L = tf.keras.layers` (literals, names, attributes, arithmetic: no
calls). Everything else at module level (training, data loading, `if __name__ == "__main__":`)
is left out; a needed name that only such code binds is listed in the job's "skipped" map, so the
child can say why it is missing. Statements keep their original line numbers, so tracebacks point
into the user's file.
"""

from __future__ import annotations

import ast
from typing import Any

import libcst as cst

from kerascheck.flow import NOT_CONSTANT
from kerascheck.lines import split_lines

# Node types a constant assignment may contain: nothing that calls user code on purpose.
_SIMPLE = (ast.Constant, ast.Name, ast.Attribute, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.BinOp,
           ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Subscript, ast.Slice, ast.IfExp, ast.Starred,
           ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)


def free_names(source: str) -> set[str]:
    """Names an expression reads (over-approximated: bound comprehension variables included)."""
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        tree = ast.parse("(" + source.strip() + ")", mode="eval")
    return _names(tree)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _bound(node: ast.AST) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Import):
        return {(a.asname or a.name.split(".")[0]) for a in node.names}
    if isinstance(node, ast.ImportFrom):
        return {(a.asname or a.name) for a in node.names}
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            out.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            out |= _bound(sub)
    return out


def _simple_value(value: ast.AST | None) -> bool:
    return value is not None and all(isinstance(n, _SIMPLE) for n in ast.walk(value))


def _unit_kind(stmt: ast.stmt) -> str | None:
    """'future' | 'import' | 'def' | 'const' for statements a slice may hold, else None."""
    if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
        return "future"
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return "import"
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return "def"
    if isinstance(stmt, ast.Assign) and all(isinstance(t, (ast.Name, ast.Tuple)) for t in stmt.targets):
        return "const" if _simple_value(stmt.value) else None
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return "const" if _simple_value(stmt.value) else None
    if isinstance(stmt, ast.Try):
        # `try: import tf_keras as keras / except ImportError: from tensorflow import keras`
        parts = [*stmt.body, *stmt.orelse, *stmt.finalbody, *(s for h in stmt.handlers for s in h.body)]
        if all(isinstance(s, ast.Pass) or _unit_kind(s) in ("import", "const") for s in parts):
            return "import"
    return None


def make_slice(text: str, needed: set[str]) -> tuple[str, dict[str, int]]:
    """(slice source, {needed name bound only by module-level code: its line})."""
    tree = ast.parse(text)
    units = []  # (stmt, kind, bound, free)
    for stmt in tree.body:
        kind = _unit_kind(stmt)
        free = set() if kind in ("future", "import") else _names(stmt)
        units.append((stmt, kind, _bound(stmt), free))
    want = set(needed)
    chosen: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i, (stmt, kind, bound, free) in enumerate(units):
            if i in chosen or kind is None:
                continue
            star = isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names)
            if kind == "future" or star or bound & want:
                chosen.add(i)
                want |= free
                changed = True
    provided = set().union(*(units[i][2] for i in chosen)) if chosen else set()
    skipped: dict[str, int] = {}
    for i, (stmt, kind, bound, _) in enumerate(units):
        if i not in chosen:
            for name in sorted((bound & want) - provided):
                skipped.setdefault(name, stmt.lineno)
    return _render(text, [units[i][0] for i in sorted(chosen)]), skipped


def _render(text: str, stmts: list[ast.stmt]) -> str:
    """The chosen statements at their original line numbers; every other line blank."""
    src_lines = split_lines(text)
    out = [""] * len(src_lines)
    for stmt in stmts:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Try)):
            start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", ())])
            for n in range(start, (stmt.end_lineno or stmt.lineno) + 1):
                out[n - 1] = src_lines[n - 1]
            continue
        segment = ast.get_source_segment(text, stmt) or ""
        for offset, piece in enumerate(split_lines(segment)):
            n = stmt.lineno + offset
            out[n - 1] = f"{out[n - 1]}; {piece}" if offset == 0 and out[n - 1] else piece
    return "\n".join(out) + "\n"


# What a required parameter gets when neither the code nor a call site gives a value: by its name
# (the last word of it: `num_units`, `hidden_dim`) or its type hint. `None` means "cannot guess".
_SIZE_WORDS = frozenset({"units", "filters", "dim", "dims", "size", "channels", "classes", "features", "hidden",
                         "width", "heads", "depth", "neurons", "embed", "vocab", "length", "len", "k", "n", "d"})
_SIZE_NAMES = frozenset({"d_model", "dmodel", "dff", "maxlen", "seqlen", "nhead", "nheads", "nlayers"})
_RATE_WORDS = frozenset({"rate", "dropout", "drop", "p", "prob"})
_KERNEL_WORDS = {"kernel": "3", "window": "3", "pool": "2", "strides": "1", "stride": "1"}
_BOOL_PREFIXES = ("use_", "is_", "has_", "with_", "enable", "apply_", "do_", "return_")


def synthesise(name: str, hint: str | None = None) -> str | None:
    """A stand-in value (Python source) for a parameter nothing gives a value to, or None.

    units/filters/dim-like -> 8; rate-like -> 0.5 (a keep probability -> 0.8); activation -> None;
    kernel_size 3, pool_size 2, strides 1; an input shape -> (32, 32, 3); booleans (hint `bool` or a
    `use_`/`is_` name) -> False, the branch taken when the flag is not set; otherwise an `int` hint
    -> 8, a `float` hint -> 0.5."""
    lowered = name.lower().strip("_")
    hint = (hint or "").replace("typing.", "").replace("Optional[", "").rstrip("]").strip()
    words = [w for w in lowered.split("_") if w]
    last = words[-1] if words else ""
    if hint == "bool" or lowered.startswith(_BOOL_PREFIXES) or lowered in ("training", "trainable"):
        return "False"
    if "keep" in words:
        return "0.8"
    if "activation" in lowered or lowered in ("act", "activ"):
        return "None"
    for word, value in _KERNEL_WORDS.items():
        if word in words:
            return value
    if last in _RATE_WORDS or lowered in ("dropout_rate", "drop_rate"):
        return "0.5"
    if last in _SIZE_WORDS or words[:1] in (["num"], ["n"], ["nb"]) or lowered in _SIZE_NAMES:
        return "8"
    if last == "shape" and words[:1] != ["batch"]:  # `input_shape`, `img_shape`: an image, the commonest
        return "(32, 32, 3)"
    if hint == "int":
        return "8"
    if hint == "float":
        return "0.5"
    return None


class Slicer:
    """Collects what one confirm job needs; `job(**fields)` returns the JSON-able job.

    `expr(node, site)` gives the source of an expression of the file (e.g. a layer constructor
    call) and records the names it reads; with the expression's `Site` (LayerDef.site,
    Apply.site), the names it reads from its function become "locals" the child binds before
    evaluating it, dependencies first:
    - a parameter with a default: the default (`def build(rate=0.3): ... Dropout(rate)`);
    - a parameter of a helper the picture inlined: the argument of that call, resolved in the
      caller the same way (`dropout_block(x, 0.4)` gives `rate=0.4`);
    - a local variable bound once (`c = NonNeg()`), when its value calls nothing that reads data,
      files or trains (source_index.UNSAFE_*) and none of the file's own functions;
    - a required parameter: a constant a same-file call gives it; else a value synthesised from
      its name and type hint (`synthesise`); else the first argument a module-level call site gives
      it that the slice can evaluate.
    Each synthesised value is listed in the job ("synthesised"; "synthesised_shape" for values
    bound while `shaping`, for an input-shape plan only) so the verdict can say it depends on it.
    Without a Context (`ctx=None`) only defaults are bound, as before.
    """

    def __init__(self, pic: Any, text: str, ctx: Any = None) -> None:
        self.pic = pic
        self.text = text
        self.ctx = ctx
        self.names: set[str] = set()
        self.locals: dict[str, str] = {}
        self.synthesised: list[str] = []  # "units=8"
        self.blocked: set[str] = set()  # locals whose value reads data, files or the network
        self.shaping = False  # binding for an input-shape plan (shapes.py), not for the flagged code
        self.shape_synthesised: list[str] = []
        self.given: list[str] = []  # "rate=0.4 (call at line 50)"

    def source(self, node: cst.CSTNode) -> str:
        return self.pic.module.code_for_node(node).strip()

    def expr(self, node: cst.CSTNode, ctx: Any = None) -> str:
        src = self.source(node)
        self.names |= free_names(src)
        function = getattr(ctx, "function", None)
        if self.ctx is not None:  # first what the calls that inlined the function pass
            self.bind(node, ctx)
        if isinstance(function, cst.FunctionDef):  # then the defaults of what is left
            self.params(function)
        return src

    def params(self, function: cst.FunctionDef) -> None:
        p = function.params
        for param in (*p.posonly_params, *p.params, *p.kwonly_params):
            if param.default is not None and param.name.value not in self.locals:
                src = self.source(param.default)
                self.locals[param.name.value] = src
                self.names |= free_names(src)

    def need(self, *names: str) -> None:
        self.names.update(names)

    # -- names an expression reads from its function ----------------------------------------

    def bind(self, node: cst.CSTNode, site: Any = None, depth: int = 0) -> None:
        """Bind the names `node` reads from its function (see the class docstring)."""
        ctx = self.ctx
        if ctx is None or depth > 6:
            return
        reads = free_names(self.source(node))
        for name in ctx.walk(node):
            if not isinstance(name, cst.Name) or name.value not in reads or name.value in self.locals:
                continue
            parent = ctx.parent(name)
            if (isinstance(parent, cst.Attribute) and parent.attr is name) or (
                    isinstance(parent, cst.Arg) and parent.keyword is name):
                continue
            value = ctx.definition(name)
            if isinstance(value, cst.BaseExpression):
                if name.value in self.blocked or not self.safe(value):
                    self.blocked.add(name.value)  # read from data: left unbound (runtime data)
                    continue
                self.bind(value, site, depth + 1)
                if free_names(self.source(value)) & self.blocked:
                    self.blocked.add(name.value)
                elif name.value not in self.locals:
                    self.locals[name.value] = self.source(value)
                    self.names |= free_names(self.locals[name.value])
                continue
            if value is None:
                self._parameter(name.value, name, site, depth)

    def safe(self, value: cst.BaseExpression) -> bool:
        """Does evaluating `value` call nothing that reads data, files or the network, or trains?"""
        from kerascheck.confirm.source_index import UNSAFE_BUILTINS, UNSAFE_CALLS, UNSAFE_METHODS

        for sub in self.ctx.walk(value):
            if isinstance(sub, (cst.Await, cst.Yield)):
                return False
            if not isinstance(sub, cst.Call):
                continue
            func = sub.func
            canon = self.ctx.resolve(func, sub) if isinstance(func, (cst.Name, cst.Attribute)) else None
            if canon is not None and (canon.name in UNSAFE_BUILTINS or canon.name.startswith(UNSAFE_CALLS)):
                return False
            if isinstance(func, cst.Name) and func.value in UNSAFE_BUILTINS:
                return False
            if isinstance(func, cst.Name) and self.ctx.function_named(func.value, sub) is not None:
                return False  # the file's own function (`load_data()`): not the flagged code
            if canon is None and isinstance(func, cst.Attribute) and func.attr.value in UNSAFE_METHODS:
                return False
        return True

    def _parameter(self, name: str, at: cst.CSTNode, site: Any, depth: int) -> None:
        """A parameter of the function around `at`: what the call that inlined the function passes
        (`block(x, filters, rate)` two calls below `stage(x, 64, 0.3)`), else its default, else
        a same-file call site's constant or a synthesised value."""
        ctx = self.ctx
        function = ctx.enclosing_function(at)
        if function is None:
            return
        param, index = _find_param(function, name)
        if param is None or (param.default is not None and name in self.locals):
            return
        caller = None
        for s in (site.chain() if site is not None and hasattr(site, "chain") else ()):
            if s.function is function:
                caller = s
                break
        if caller is not None and caller.caller is not None:  # the call that inlined the helper
            arg = _argument(caller.caller, name, index, _is_method(ctx, function))
            if arg is not None:
                src = self.source(arg)
                if src == name:  # `block(x, rate)` inside `def f(x, rate)`: resolve it there
                    self.bind(arg, caller.outer, depth + 1)
                    return
                if self._use(name, arg, caller.outer, depth, caller.caller):
                    return
        if param.default is not None:  # the call leaves it out (or there is no call): the default
            self.bind(param.default, None, depth + 1)
            self.locals[name] = self.source(param.default)
            self.names |= free_names(self.locals[name])
            return
        # A same-file call that gives it a constant (`make_model((IMG, IMG, 3))`): the file's own value.
        values = [v for v in ctx.param_values(function, name) or () if v is not None]
        for value in values:
            if ctx.constant(value) is not NOT_CONSTANT and self._use(name, value, None, depth, value):
                return
        hint = self.source(param.annotation.annotation) if param.annotation is not None else None
        made = synthesise(name, hint)
        if made is not None:
            self.locals[name] = made
            (self.shape_synthesised if self.shaping else self.synthesised).append(f"{name}={made}")
            return
        for value in values:  # last: a module-level call site whose arguments the slice can evaluate
            if ctx.enclosing_function(value) is None and self._use(name, value, None, depth, value):
                return

    def _use(self, name: str, arg: cst.BaseExpression, site: Any, depth: int, where: cst.CSTNode) -> bool:
        """Bind parameter `name` to a call's argument, unless the argument reads data."""
        src = self.source(arg)
        if name in free_names(src) or not self.safe(arg):
            return False
        self.bind(arg, site, depth + 1)
        if free_names(src) & self.blocked:
            return False
        self.locals[name] = src
        self.names |= free_names(src)
        self.given.append(f"{name}={_short(src)} (the call at line {self._line(where)})")
        return True

    def _line(self, node: cst.CSTNode) -> int:
        where = positions(self.pic.module).get(node)
        return where.start.line if where is not None else 0

    def job(self, **fields: Any) -> dict[str, Any]:
        source, skipped = make_slice(self.text, self.names - set(self.locals))
        job = {"slice": source, "locals": self.locals, "skipped": skipped, **fields}
        if self.synthesised:
            job["synthesised"] = list(dict.fromkeys(self.synthesised))
        if self.shape_synthesised:
            job["synthesised_shape"] = list(dict.fromkeys(self.shape_synthesised))
        if self.given:
            job["given"] = list(dict.fromkeys(self.given))
        return job


def _short(src: str, limit: int = 40) -> str:
    flat = " ".join(src.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _find_param(function: cst.FunctionDef, name: str):
    """(the parameter called `name`, its position among the positional ones or None)."""
    p = function.params
    positional = [*p.posonly_params, *p.params]
    for i, param in enumerate(positional):
        if param.name.value == name:
            return param, i
    for param in p.kwonly_params:
        if param.name.value == name:
            return param, None
    return None, None


def _is_method(ctx: Any, function: cst.FunctionDef) -> bool:
    outer = ctx.parent(ctx.parent(function)) if ctx.parent(function) is not None else None
    return isinstance(outer, cst.ClassDef)


def _argument(call: cst.Call, name: str, index: int | None, method: bool) -> cst.BaseExpression | None:
    """The expression a call gives parameter `name` (position `index` of the def)."""
    from kerascheck.picture import call_arg

    if any(a.star for a in call.args):
        return None
    return call_arg(call, name, None if index is None else index - 1 if method else index)


# ------------------------------------------------------------------ shared by the recipes


def required_params(fn: cst.FunctionDef | None, bound: bool = True) -> list[str]:
    """Parameters without a default (the first, `self`, skipped for methods)."""
    if fn is None:
        return []
    p = fn.params
    positional = [*p.posonly_params, *p.params]
    if bound and positional:
        positional = positional[1:]
    return [q.name.value for q in (*positional, *p.kwonly_params) if q.default is None]


def literal_args(module: cst.Module, call: cst.Call) -> str | None:
    """`a, k=b` when every argument of the call is a literal, else None."""
    parts = []
    for arg in call.args:
        if arg.star:
            return None
        source = module.code_for_node(arg.value).strip()
        try:
            ast.literal_eval(source)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
        parts.append(f"{arg.keyword.value}={source}" if arg.keyword is not None else source)
    return ", ".join(parts)


def construction_args(module: cst.Module, name: str) -> str | None:
    """The arguments of the first `name(...)` call in the file whose arguments are all literals."""
    from kerascheck.names import walk

    for node in walk(module):
        if isinstance(node, cst.Call) and node.args:
            func = node.func
            called = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else None
            if called == name:
                args = literal_args(module, node)
                if args is not None:
                    return args
    return None


def nested_def(module: cst.Module, text: str, node: cst.FunctionDef | cst.ClassDef, slicer: Slicer) -> dict | None:
    """The source of a def that is not at the top level of the file, dedented, at its line
    (None for a top-level def, which the slice holds anyway)."""
    import textwrap

    if any(stmt is node for stmt in module.body):
        return None
    tree = ast.parse(text)
    kinds = (ast.ClassDef,) if isinstance(node, cst.ClassDef) else (ast.FunctionDef, ast.AsyncFunctionDef)
    flat = "".join(module.code_for_node(node).split())
    found = [n for n in ast.walk(tree) if isinstance(n, kinds) and n.name == node.name.value
             and n not in tree.body and "".join((ast.get_source_segment(text, n) or "\0").split()) in flat]
    if len(found) != 1:
        raise ValueError(f"cannot locate `{node.name.value}` in the file")
    target = found[0]
    start = min([target.lineno] + [d.lineno for d in target.decorator_list])
    lines = split_lines(text)[start - 1: target.end_lineno]
    source = textwrap.dedent("\n".join(lines))
    reads = {n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    slicer.names |= reads - {node.name.value}
    return {"line": start, "source": source}


_POSITIONS: list[tuple[cst.Module, Any]] = []  # the last modules' positions (one file at a time)


def positions(module: cst.Module):
    """libcst node -> CodeRange for a whole module, computed once per module."""
    for known, found in _POSITIONS:
        if known is module:
            return found
    from libcst.metadata import MetadataWrapper, PositionProvider

    from kerascheck.parse import column_shifts
    from kerascheck.positions import with_shifts

    found = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    shifts = column_shifts(module)  # lines whose leading form feeds libcst did not see
    if shifts:
        found = with_shifts(found, shifts)
    _POSITIONS.insert(0, (module, found))
    del _POSITIONS[4:]
    return found


def lines_of(ctx: Any, node: cst.CSTNode) -> tuple[int, int]:
    """First and last line of a node of the context's module."""
    where = positions(ctx.picture.module)[node]
    return where.start.line, where.end.line

