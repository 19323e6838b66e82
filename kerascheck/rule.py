"""The rule contract: the only kerascheck module a rule imports.

A rule is one module `rules/kcNNN_<name>.py` (installed as `kerascheck.rules`), found by
discovery. It defines:

    RULE = Rule("KC001", "dropout-before-batchnorm", MESSAGE, severity="warning",
                needs=((b"BatchNormalization", b"Dropout"),), anchors=("keras.layers.*",))
    VALID = [...]; INVALID = [...]          # examples; `# expect: KC001` marks each bad line

    def check(ctx: Context) -> Iterator[Hit]:
        for app in ctx.picture.applies: ...

The module docstring is the rule's documentation (What it does / Why is this bad? / Example /
Use instead). `check` is a pure generator: it reads the shared semantic model through `ctx`
(`ctx.picture`: layers, applications, calls, models, classes; `ctx.training`: the models'
outputs and `compile` calls; the helpers below: names, scopes, parents, constants, uses, call
sites, training gates) and never walks the tree with
its own walker or resolves names itself. A hit may carry a `Fix`: text edits on the original
source, never on the parsed (pruned) tree.

Confirm-mode recipes live in `rules/confirm/kcNNN.py`; lint never imports them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from kerascheck.facts import ProjectFacts
from kerascheck.fate import Use
from kerascheck.flow import tokens as name_words
from kerascheck.names import Canon, ImportRecord, Scope
from kerascheck.names import _dotted as _dotted_name
from kerascheck.names import keras_relative as keras_path
from kerascheck.picture import (
    NOT_CONSTANT,
    Apply,
    BinOpEvent,
    CallEvent,
    KerasClass,
    LayerDef,
    MethodCallEvent,
    ModelEvent,
    Picture,
    Site,
    Value,
    call_arg,
    literal_number,
    literal_string,
    literal_value,
)
from kerascheck.shapes import INPUT_RANK, Shape, Shapes
from kerascheck.training import ANCHORS as TRAINING_ANCHORS
from kerascheck.training import Compile, Loss, Metric, Model, Output, Training

__all__ = [
    "KERAS3_IMPORTS", "KERAS_MODULES",
    "INPUT_RANK", "NOT_CONSTANT", "Apply", "BinOpEvent", "CallEvent", "Canon", "Compile", "Context", "Edit", "Fix",
    "Hit", "ImportRecord", "KerasClass", "LayerDef", "Loss", "Metric", "MethodCallEvent", "Model", "ModelEvent",
    "Output", "Picture", "ProjectFacts", "Rule", "Use", "Scope", "Shape", "Shapes", "Site", "TRAINING_ANCHORS",
    "Training", "Value", "call_arg", "cst", "dotted_name", "keras_path", "literal_number", "literal_string",
    "literal_value", "name_words", "remove_arg",
]

SEVERITIES = ("error", "warning", "info")

# Public modules of Keras 2 and 3 (`keras.src`, Keras's own code, is not one of them).
KERAS_MODULES = (
    "activations", "api", "applications", "backend", "callbacks", "config", "constraints", "datasets", "distribution",
    "dtype_policies", "engine", "export", "initializers", "layers", "legacy", "losses", "metrics",
    "mixed_precision", "models", "ops", "optimizers", "preprocessing", "quantizers", "random", "regularizers",
    "saving", "tree", "utils", "visualization", "wrappers",
)
# Prefilter groups (see `Rule.needs`) for "this file imports Keras 3's public API": `import keras`,
# `from keras import`, `from keras.layers import`, `tf.keras` (`tf_keras` alone is Keras 2; the
# `keras.src` imports of Keras's own modules are left out). Add a rule's own word to each group:
# `needs=tuple((b"_generator", *group) for group in KERAS3_IMPORTS)`.
KERAS3_IMPORTS: tuple[tuple[bytes, ...], ...] = (
    *((b"import keras" + end,) for end in (b"\n", b"\r", b" ", b".", b",")),
    (b"from keras ",),
    *((b"from keras." + module.encode(),) for module in KERAS_MODULES),
    (b"from tensorflow import keras",), (b"from tensorflow.keras",), (b"import tensorflow.keras",),
    (b"import tensorflow as tf", b"tf.keras."),
)
APPLICABILITIES = ("safe", "unsafe", "display")


@dataclass(frozen=True)
class Rule:
    """A rule's identity and what the engine needs to know before running it.

    `needs`: the prefilter. Groups of byte words; the file is parsed for this rule only if
    every word of at least one group occurs in it (a bytes item is a group of one).
    `anchors`: canonical names (`keras.layers.Dropout`, `keras.layers.*`, `tensorflow.nn.dropout`)
    and method names (`.compile`, `.add_weight`) whose use makes a function worth parsing; the
    engine maps them to the file's own spellings and hands libcst only the functions that use
    one, the functions those call, and the structural methods of their classes. A canonical
    anchor ending in `@3` (`keras.backend.*@3`) counts only Keras 3's spellings of it; one ending
    in `@api` only Keras 3's public spellings (not Keras's own `keras.src` modules, where a rule
    about what the public API lost has nothing to find).
    `ties`: False when the rule reads only the functions that use an anchor themselves: they are
    parsed without their callers, callees and sibling structural methods (KC013 reads the
    `add_weight` calls of a `build()`, nothing around it).
    `options`: the option schema, name -> default (the default's type is the option's type).
    `default`: enabled when nothing selects it explicitly (False for opt-in `info` rules).
    """

    code: str
    name: str
    message: str
    severity: str = "warning"
    needs: tuple = ()
    anchors: tuple[str, ...] = ()
    ties: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    default: bool = True
    # Filled in by the registry from the rule's module:
    doc: str = ""
    check: Callable[[Context], Iterator[Hit]] | None = field(default=None, compare=False, repr=False)
    valid: tuple[str, ...] = ()
    invalid: tuple[str, ...] = ()
    module: Any = field(default=None, compare=False, repr=False)

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.name

    @property
    def groups(self) -> tuple[tuple[bytes, ...], ...]:
        return _groups(self.needs)

    @property
    def words(self) -> frozenset[bytes]:
        """Every word of the prefilter groups."""
        return _words(self.needs)

    def wanted(self, data: bytes, seen: dict[bytes, bool] | None = None) -> bool:
        """Could this rule match `data`? `seen` shares word look-ups between rules."""
        seen = {} if seen is None else seen

        def present(word: bytes) -> bool:
            found = seen.get(word)
            if found is None:
                # A word that starts with a line break also matches at the start of the file,
                # and after a lone \r (a line break for Python's tokenizer too).
                found = seen[word] = word in data or (word[:1] == b"\n" and (
                    data.startswith(word[1:]) or b"\r" + word[1:] in data))
            return found

        for first, rests in _by_first_word(self.needs):
            if present(first) and any(all(present(w) for w in rest) for rest in rests):
                return True
        return False


@functools.lru_cache(maxsize=None)
def _groups(needs: tuple) -> tuple[tuple[bytes, ...], ...]:
    return tuple((g,) if isinstance(g, bytes) else tuple(g) for g in needs)


@functools.lru_cache(maxsize=None)
def _words(needs: tuple) -> frozenset[bytes]:
    return frozenset(w for group in _groups(needs) for w in group)


@functools.lru_cache(maxsize=None)
def _by_first_word(needs: tuple) -> tuple[tuple[bytes, tuple[tuple[bytes, ...], ...]], ...]:
    """A rule's prefilter groups by their first word, in order: a word that is absent rules out
    every group it starts at once (KC008 has 21 words x 40 spellings of a Keras import)."""
    firsts: dict[bytes, list[tuple[bytes, ...]]] = {}
    for group in needs:
        group = (group,) if isinstance(group, bytes) else tuple(group)
        firsts.setdefault(group[0], []).append(group[1:])
    return tuple((first, tuple(rests)) for first, rests in firsts.items())


# ------------------------------------------------------------------ fixes


@dataclass(frozen=True)
class Edit:
    """Replace the source of `node` (or from `node` to `end`, inclusive) with `content`.

    `at="before"` / `"after"` inserts `content` at the start / end of `node` instead;
    `at="until"` replaces from the start of `node` up to the start of `end` (exclusive: an
    argument and the separator after it). Positions come from the parsed tree, whose line and
    column numbers are the original file's, and the edit applies to the original text. A
    line break in `content` is written as `\n`: the fixer writes the file's own.
    """

    node: cst.CSTNode
    content: str
    end: cst.CSTNode | None = None
    at: str = "replace"  # "replace" | "before" | "after" | "until"


@dataclass(frozen=True)
class Fix:
    edits: tuple[Edit, ...]
    applicability: str  # "safe" | "unsafe" | "display"
    message: str

    def __post_init__(self) -> None:
        if self.applicability not in APPLICABILITIES:
            raise ValueError(f"bad applicability {self.applicability!r}")

    @classmethod
    def replace(cls, node: cst.CSTNode, content: str, message: str, applicability: str = "safe") -> Fix:
        return cls((Edit(node, content),), applicability, message)


def remove_arg(call: cst.Call, arg: cst.Arg) -> tuple[Edit, ...]:
    """The edits that delete `arg` from `call` with one separator, leaving valid code:
    `f(a, b=1, c)` -> `f(a, c)`, `f(a, b=1)` -> `f(a)`, `f(b=1,)` -> `f()`."""
    args = list(call.args)
    i = next(k for k, a in enumerate(args) if a is arg)
    if i + 1 < len(args):
        return (Edit(arg, "", end=args[i + 1], at="until"),)
    if i > 0 and isinstance(args[i - 1].comma, cst.Comma):
        return (Edit(args[i - 1].comma, "", end=arg),)
    if isinstance(arg.comma, cst.Comma):
        return (Edit(arg, "", end=arg.comma),)
    return (Edit(arg, ""),)


# ------------------------------------------------------------------ hits


@dataclass(frozen=True)
class Hit:
    """One place a rule matched.

    `node` is what is reported (its start and end give line:col); `fmt` fills the rule's
    message; each `related` node is reported as a related location, and its line is available
    to the message as `{<key>_line}`; `data` is for confirm recipes; `message` replaces the
    rule's message when a case needs another wording.
    """

    node: cst.CSTNode
    fmt: Mapping[str, Any] = field(default_factory=dict)
    related: Mapping[str, Any] = field(default_factory=dict)  # key -> node, or (node, label)
    data: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None
    fix: Fix | None = None


# ------------------------------------------------------------------ context


class Context:
    """What `check(ctx)` reads: the shared model of one file, its text, the rule's options and
    the project facts, plus the model's semantic helpers."""

    __slots__ = ("picture", "text", "path", "options", "facts", "_flavors")

    def __init__(self, picture: Picture, text: str, path: str, options: Mapping[str, Any],
                 facts: ProjectFacts) -> None:
        self.picture = picture
        self.text = text
        self.path = path
        self.options = options
        self.facts = facts
        self._flavors: frozenset[str] | None = None

    @property
    def training(self) -> Training:
        """The training set-up (kerascheck/training.py): each model's outputs (last layer,
        activation, units) and each `compile` call (the model, the loss of each output,
        from_logits, metrics). Built on first use, shared by every rule of the file."""
        return self.picture.training

    @property
    def shapes(self) -> Shapes:
        """The static tensor shapes of the picture's layer applications (kerascheck/shapes.py):
        `output(app)`, `input(app)`, `of(value)`, `declared(layer)`, `source(input_def)`,
        `arg(layer, keyword, position, default)`, `consumers(app)`, `collapsed(app)`, `trail(app)`."""
        return self.picture.shapes

    # -- names and scopes ------------------------------------------------------------------

    def resolve(self, expr: cst.BaseExpression, at: cst.CSTNode | Scope | None = None) -> Canon | None:
        """The canonical name of a Name/Attribute chain (`keras.layers.Dropout`), or None when
        it is not provably one thing. `at`: a scope, or a node whose scope to resolve in."""
        return self.picture.resolve(expr, at)

    def imported(self) -> set[Canon]:
        """The canonical name (and Keras flavor) of every module path the file imports."""
        from kerascheck.names import canonical

        return {canonical(path) for path in self.picture.names.imports()}

    def import_records(self) -> tuple[ImportRecord, ...]:
        """Every name the file's import statements import, as written (whole dotted paths,
        with their nodes), in every scope."""
        return self.picture.names.import_records

    def spelled(self, expr: cst.BaseExpression, at: cst.CSTNode | Scope | None = None) -> frozenset[str] | None:
        """The raw dotted paths a Name/Attribute chain stands for, as the imports wrote them
        (`keras.layers.merge.concatenate`, which `resolve` makes `keras.layers.concatenate`)."""
        scope = at if isinstance(at, Scope) else self.scope_of(at) if at is not None else self.picture.names.root
        return self.picture.names.spelled(expr, scope)

    def spelling(self, target: str, at: cst.CSTNode) -> tuple[str, tuple[Edit, ...]] | None:
        """How code at `at` can name the canonical `target` (`keras.ops`): an expression through
        the file's imports (`ops`, `keras.ops`, `tf.keras.ops`) and no edit, or `keras...` with
        the edit that adds `import keras` before the file's first import (when no scope binds
        the name `keras`); None when neither works. A fix that names something must use this,
        so that the fixed file still imports."""
        names = self.picture.names
        text = names.spell(target, self.scope_of(at))
        if text is not None and self._top_level_import(text.split(".", 1)[0]):
            return text, ()
        if not (target == "keras" or target.startswith("keras.")) or names.bound_anywhere("keras"):
            return None
        for stmt in self.picture.module.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            small = stmt.body[0]
            if isinstance(small, cst.Import) or (isinstance(small, cst.ImportFrom) and not small.relative
                                                 and dotted_name(small.module) != "__future__"):
                return target, (Edit(stmt, "import keras\n", at="before"),)
        return None

    def keras_major(self, flavor: str | None = None) -> str | None:
        """Which Keras ("2" or "3") names of a flavor (`keras`, `tf.keras`, `tf_keras`) stand for
        in this file, or, for None, the file's Keras code as a whole; None when it cannot be told.
        `tf_keras` (and the old `tensorflow.python.keras`) is always Keras 2. `keras` and
        `tf.keras` are Keras 3 unless the target is Keras 2 (`ctx.facts.keras`, not forced by
        `--target-keras 3`); a file that imports tf_keras or mentions TF_USE_LEGACY_KERAS says
        nothing sure about them (its `tf.keras` may be Keras 2), so they are None there."""
        if flavor in ("tf_keras", "tf.python.keras"):
            return "2"
        if flavor not in (None, "keras", "tf.keras"):
            return None
        if self.facts.keras == "2" and not self.facts.keras_forced:
            return "2"
        if self._flavors is None:
            self._flavors = frozenset(c.flavor for c in self.imported() if c.flavor is not None)
        flavors = self._flavors
        if flavors & {"tf_keras", "tf.python.keras", "mixed"} or "TF_USE_LEGACY_KERAS" in self.text:
            return None
        if flavor is None and not flavors & {"keras", "tf.keras"}:
            return None
        return "3"

    def _top_level_import(self, name: str) -> bool:
        """Is `name` bound only by imports that are statements of the module itself (not inside a
        function, an `if` or a `try`), so that it is bound wherever the module's code runs?"""
        body = self.picture.module.body
        records = [r for r in self.picture.names.import_records
                   if r.scope.kind == "module" and _bound_name(r) == name]
        return bool(records) and all(
            any(isinstance(stmt, cst.SimpleStatementLine) and r.statement in stmt.body for stmt in body)
            for r in records)

    def keras_optimizer(self, expr: cst.BaseExpression) -> bool:
        """Is `expr` a Keras 3 optimizer object: `<x>.optimizer` (a model's), or a name bound to the
        construction of one (`opt = keras.optimizers.Adam(...)`)?"""
        if isinstance(expr, cst.Attribute) and expr.attr.value == "optimizer":
            return True
        if isinstance(expr, cst.Name):
            found = self.definition(expr)
            if isinstance(found, cst.Call) and isinstance(found.func, (cst.Name, cst.Attribute)):
                canon = self.resolve(found.func, found)
                return (canon is not None and canon.name.startswith("keras.optimizers.")
                        and canon.short[:1].isupper() and self.keras_major(canon.flavor) == "3")
        return False

    def attributes(self, name: str) -> list[cst.Attribute]:
        """Every `<expr>.name` in the parsed code (loads, stores and calls alike), in source order."""
        return self.picture.flow.attributes(name)

    def scope_of(self, node: cst.CSTNode) -> Scope:
        """The innermost scope (module, class, function, lambda, comprehension) holding `node`."""
        return self.picture.names_for(node).enclosing_scope(node, self.picture.flow_for(node))

    # -- tree -------------------------------------------------------------------------------

    def walk(self, node: cst.CSTNode, into_scopes: bool = True) -> Iterator[cst.CSTNode]:
        """`node` and everything below it, in source order; `into_scopes=False` does not enter
        nested functions, lambdas and classes."""
        return self.picture.flow.walk(node, into_scopes)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.picture.flow_for(node).parent(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        return self.picture.flow_for(node).ancestors(node)

    def enclosing_function(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        return self.picture.flow_for(node).enclosing(node, cst.FunctionDef)

    def code(self, node: cst.CSTNode) -> str:
        return self.picture.module_for(node).code_for_node(node)

    def docstring(self, node: cst.CSTNode | None = None) -> str:
        """The docstring of a function or class, or of the module (node None)."""
        return self.picture.flow_for(node).docstring(node)

    def comments(self, node: cst.CSTNode) -> list[str]:
        """The comments inside `node` and on the lines just above it."""
        return self.picture.flow_for(node).comments(node)

    # -- values -----------------------------------------------------------------------------

    def constant(self, expr: cst.BaseExpression | None, scope: Scope | None = None) -> Any:
        """The Python value of a literal, or of names bound to one (the assignment that reaches
        the name in straight-line code, else its scope's only binding), folded through
        arithmetic, tuples and indexing; `NOT_CONSTANT` (falsy) when not known. With `scope`
        (e.g. `Site.scope`), names count only by their single binding seen from there, and no
        parent links are built (much cheaper on a large file)."""
        return self.picture.flow_for(expr).constant(expr, scope)

    def uses(self, target: cst.Name) -> list[cst.Name]:
        """The loads that the assignment to `target` may reach, in its function (or module), in
        source order: until an assignment that surely runs after it (one in a branch or a loop
        does not stop them)."""
        return self.picture.flow_for(target).uses(target)

    def object_uses(self, made: cst.CSTNode) -> list[Use] | None:
        """What happens to the object `made` makes, use by use in order, when it is bound to one
        name (`layer = Dense(...)`): called, a method called (`layer.kernel.assign(...)`), an
        attribute read (`layer.kernel.constraint`), or handed on elsewhere. None when not bound
        to one name (kerascheck/fate.py)."""
        from kerascheck.fate import object_uses

        return object_uses(self.picture.flow_for(made), made)

    def call_sites(self, function: cst.FunctionDef) -> list[cst.Call]:
        """Same-file calls of a module-level function, or `self.<method>(...)` calls of a method."""
        return self.picture.flow_for(function).call_sites(function)

    def param_values(self, function: cst.FunctionDef, name: str) -> list[cst.BaseExpression] | None:
        """Every expression parameter `name` gets at the same-file call sites (its default where
        a call leaves it out), or None when a call site is not exact (`*args`) or there is none."""
        return self.picture.flow_for(function).param_values(function, name)

    def training_gated(self, node: cst.CSTNode, flags: frozenset[str] = frozenset({"training"}),
                       uses: bool = True, within: cst.CSTNode | None = None) -> bool:
        """Is `node` evaluated (or, with `uses`, its result used) only when the model trains:
        under a condition on the training flag, after `if not training: return`, in
        `K.in_train_phase`, a `cond`/`switch` on the flag, or only used in such code? Judged in
        the outermost function holding `node` (a nested def runs where it is referenced, a
        lambda where it is handed on), or only within `within`. `flags` are the names that
        carry the flag there (`Site.flags`)."""
        return self.picture.flow_for(node).training_gated(node, flags, uses, within)

    def mentions_training(self, expr: cst.CSTNode, flags: frozenset[str] = frozenset({"training"})) -> bool:
        """Does `expr` mention the training phase (a flag name, one computed from it, or a
        phase word: `is_training`, `mode == PREDICT`, `deterministic`, ...)?"""
        return self.picture.flow_for(expr).mentions_phase(expr, flags)

    def definition(self, name: cst.Name) -> cst.CSTNode | None:
        """What a load of `name` is bound to, when that is one thing: the right-hand side of the
        assignment that reaches it in straight-line code, else of its scope's only binding, or
        the `def`/`class` statement that is its only binding. None for parameters, loop
        targets, names bound several ways, and names bound by `global` from afar. A name imported
        from another module of the project is its class or function statement there (or a literal
        constant's value): a rule does not tell the two apart."""
        found = self.picture.flow_for(name).definition(name)
        if found is None and isinstance(name, cst.Name):
            found = self.picture.definition_elsewhere(name)
        return found

    def values(self, name: cst.Name) -> list[cst.BaseExpression] | None:
        """What a load of `name` may stand for: `[definition]`, or for a parameter the expressions
        the same-file calls give it (its default where a call leaves it out; the default alone when
        no call in the file calls the function; an imported project constant's value). None when
        not known."""
        found = self.picture.flow_for(name).values(name)
        if found is None and isinstance(name, cst.Name):
            elsewhere = self.picture.definition_elsewhere(name)
            found = [elsewhere] if isinstance(elsewhere, cst.BaseExpression) else None
        return found

    def function_named(self, name: str, at: cst.CSTNode) -> cst.FunctionDef | None:
        """The one `def name` that a load of `name` at `at` sees, else None."""
        found = self.picture.flow_for(at).bindings(name, at)
        if found is None or len(found[1]) != 1 or not isinstance(found[1][0].value, cst.FunctionDef):
            return None
        return found[1][0].value

    def reads(self, expr: cst.CSTNode) -> set[str]:
        """The names `expr` loads (not attribute names after a dot, nor keyword names)."""
        return self.picture.flow_for(expr).reads(expr)

    def loops(self, node: cst.CSTNode) -> list[cst.CSTNode]:
        """The `for`/`while` statements and comprehensions that run `node` once per iteration,
        innermost first, within its function (not a `for`'s iterable or `else:`)."""
        return self.picture.flow_for(node).loops(node)

    def loop_names(self, loop: cst.CSTNode) -> frozenset[str]:
        """The names that change per iteration of `loop`: its targets (a `while` test's rebound
        names), nested loops' targets, and what the body assigns from them."""
        return self.picture.flow_for(loop).loop_names(loop)

    def max_trips(self, loop: cst.CSTNode) -> int | None:
        """At most how many iterations `loop` runs when the code says (`range(5)`, a literal
        list, `x[:8]`), else None."""
        return self.picture.flow_for(loop).max_trips(loop)

    def parameter(self, name: cst.Name) -> cst.Param | None:
        """The parameter whose value a load of `name` reads: the function binds the name as
        that parameter and reassigns it (if at all) only in later statements, or in the very
        statement that reads it (`shape = tf.TensorShape(shape)`); else None."""
        return self.picture.flow_for(name).parameter(name)

    def expected_errors(self, node: cst.CSTNode) -> frozenset[str]:
        """The exception classes the code around `node` expects (`try` handlers, a test's
        `assertRaises` / `pytest.raises`), by last name: a rule about code that raises stays
        silent where the raise is expected."""
        return self.picture.flow_for(node).expected_errors(node)

    def conditions(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        """The tests of the `if`/`while`/conditional expressions and the `try` statements that
        enclose `node`, innermost first (`try` when `node` is in its body)."""
        return self.picture.flow_for(node).conditions(node)


def dotted_name(expr: cst.BaseExpression | None) -> str:
    """`a.b.c` for a Name/Attribute chain, "" for anything else."""
    return (_dotted_name(expr) or "") if expr is not None else ""


def _bound_name(record: ImportRecord) -> str:
    """The name an import binds: its `as` name, or the first part of `import a.b`."""
    alias = record.node
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    if isinstance(record.statement, cst.Import):
        return record.path.split(".", 1)[0]
    return record.path.rsplit(".", 1)[-1]
