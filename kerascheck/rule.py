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
(`ctx.picture`: layers, applications, calls, models, classes; the helpers below: names,
scopes, parents, constants, uses, call sites, training gates) and never walks the tree with
its own walker or resolves names itself. A hit may carry a `Fix`: text edits on the original
source, never on the parsed (pruned) tree.

Confirm-mode recipes live in `rules/confirm/kcNNN.py`; lint never imports them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import libcst as cst

from kerascheck.flow import tokens as name_words
from kerascheck.names import Canon, Scope
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

if TYPE_CHECKING:
    from kerascheck.facts import ProjectFacts

__all__ = [
    "NOT_CONSTANT", "Apply", "BinOpEvent", "CallEvent", "Canon", "Context", "Edit", "Fix", "Hit", "KerasClass", "LayerDef",
    "MethodCallEvent", "ModelEvent", "Picture", "Rule", "Scope", "Site", "Value", "call_arg", "cst",
    "literal_number", "literal_string", "literal_value", "name_words",
]

SEVERITIES = ("error", "warning", "info")
APPLICABILITIES = ("safe", "unsafe", "display")


@dataclass(frozen=True)
class Rule:
    """A rule's identity and what the engine needs to know before running it.

    `needs`: the prefilter. Groups of byte words; the file is parsed for this rule only if
    every word of at least one group occurs in it (a bytes item is a group of one).
    `anchors`: canonical names (`keras.layers.Dropout`, `keras.layers.*`, `tensorflow.nn.dropout`)
    and method names (`.compile`, `.add_weight`) whose use makes a function worth parsing; the
    engine maps them to the file's own spellings and hands libcst only the functions that use
    one, the functions those call, and the structural methods of their classes.
    `options`: the option schema, name -> default (the default's type is the option's type).
    `default`: enabled when nothing selects it explicitly (False for opt-in `info` rules).
    """

    code: str
    name: str
    message: str
    severity: str = "warning"
    needs: tuple = ()
    anchors: tuple[str, ...] = ()
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
        return tuple((g,) if isinstance(g, bytes) else tuple(g) for g in self.needs)

    def wanted(self, data: bytes, seen: dict[bytes, bool] | None = None) -> bool:
        """Could this rule match `data`? `seen` shares word look-ups between rules."""
        seen = {} if seen is None else seen
        for group in self.groups:
            for word in group:
                present = seen.get(word)
                if present is None:
                    # A word that starts with a line break also matches at the start of the file,
                    # and after a lone \r (a line break for Python's tokenizer too).
                    present = seen[word] = word in data or (word[:1] == b"\n" and (
                        data.startswith(word[1:]) or b"\r" + word[1:] in data))
                if not present:
                    break
            else:
                return True
        return False


# ------------------------------------------------------------------ fixes


@dataclass(frozen=True)
class Edit:
    """Replace the source of `node` (or from `node` to `end`, inclusive) with `content`.

    `at="before"` / `"after"` inserts `content` at the start / end of `node` instead.
    Positions come from the parsed tree, whose line and column numbers are the original
    file's, and the edit applies to the original text.
    """

    node: cst.CSTNode
    content: str
    end: cst.CSTNode | None = None
    at: str = "replace"  # "replace" | "before" | "after"


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

    __slots__ = ("picture", "text", "path", "options", "facts")

    def __init__(self, picture: Picture, text: str, path: str, options: Mapping[str, Any],
                 facts: ProjectFacts) -> None:
        self.picture = picture
        self.text = text
        self.path = path
        self.options = options
        self.facts = facts

    # -- names and scopes ------------------------------------------------------------------

    def resolve(self, expr: cst.BaseExpression, at: cst.CSTNode | Scope | None = None) -> Canon | None:
        """The canonical name of a Name/Attribute chain (`keras.layers.Dropout`), or None when
        it is not provably one thing. `at`: a scope, or a node whose scope to resolve in."""
        return self.picture.resolve(expr, at)

    def imported(self) -> set[Canon]:
        """The canonical name (and Keras flavor) of every module path the file imports."""
        from kerascheck.names import canonical

        return {canonical(path) for path in self.picture.names.imports()}

    def scope_of(self, node: cst.CSTNode) -> Scope:
        """The innermost scope (module, class, function, lambda, comprehension) holding `node`."""
        return self.picture.names.enclosing_scope(node, self.picture.flow)

    # -- tree -------------------------------------------------------------------------------

    def walk(self, node: cst.CSTNode, into_scopes: bool = True) -> Iterator[cst.CSTNode]:
        """`node` and everything below it, in source order; `into_scopes=False` does not enter
        nested functions, lambdas and classes."""
        return self.picture.flow.walk(node, into_scopes)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.picture.flow.parent(node)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        return self.picture.flow.ancestors(node)

    def enclosing_function(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        return self.picture.flow.enclosing(node, cst.FunctionDef)

    def code(self, node: cst.CSTNode) -> str:
        return self.picture.module.code_for_node(node)

    def docstring(self, node: cst.CSTNode | None = None) -> str:
        """The docstring of a function or class, or of the module (node None)."""
        return self.picture.flow.docstring(node)

    def comments(self, node: cst.CSTNode) -> list[str]:
        """The comments inside `node` and on the lines just above it."""
        return self.picture.flow.comments(node)

    # -- values -----------------------------------------------------------------------------

    def constant(self, expr: cst.BaseExpression | None) -> Any:
        """The Python value of a literal, or of names bound to one (the assignment that reaches
        the name in straight-line code, else its scope's only binding), folded through
        arithmetic, tuples and indexing; `NOT_CONSTANT` (falsy) when not known."""
        return self.picture.flow.constant(expr)

    def uses(self, target: cst.Name) -> list[cst.Name]:
        """The loads that the assignment to `target` reaches, in its function (or module)."""
        return self.picture.flow.uses(target)

    def call_sites(self, function: cst.FunctionDef) -> list[cst.Call]:
        """Same-file calls of a module-level function, or `self.<method>(...)` calls of a method."""
        return self.picture.flow.call_sites(function)

    def param_values(self, function: cst.FunctionDef, name: str) -> list[cst.BaseExpression] | None:
        """Every expression parameter `name` gets at the same-file call sites (its default where
        a call leaves it out), or None when a call site is not exact (`*args`) or there is none."""
        return self.picture.flow.param_values(function, name)

    def training_gated(self, node: cst.CSTNode, flags: frozenset[str] = frozenset({"training"}),
                       uses: bool = True, within: cst.CSTNode | None = None) -> bool:
        """Is `node` evaluated (or, with `uses`, its result used) only when the model trains:
        under a condition on the training flag, after `if not training: return`, in
        `K.in_train_phase`, a `cond`/`switch` on the flag, or only used in such code? Judged in
        the outermost function holding `node` (a nested def runs where it is referenced, a
        lambda where it is handed on), or only within `within`. `flags` are the names that
        carry the flag there (`Site.flags`)."""
        return self.picture.flow.training_gated(node, flags, uses, within)

    def mentions_training(self, expr: cst.CSTNode, flags: frozenset[str] = frozenset({"training"})) -> bool:
        """Does `expr` mention the training phase (a flag name, one computed from it, or a
        phase word: `is_training`, `mode == PREDICT`, `deterministic`, ...)?"""
        return self.picture.flow.mentions_phase(expr, flags)

    def definition(self, name: cst.Name) -> cst.CSTNode | None:
        """What a load of `name` is bound to, when that is one thing: the right-hand side of the
        assignment that reaches it in straight-line code, else of its scope's only binding, or
        the `def`/`class` statement that is its only binding. None for parameters, loop
        targets, imports, names bound several ways, and names bound by `global` from afar."""
        return self.picture.flow.definition(name)

    def function_named(self, name: str, at: cst.CSTNode) -> cst.FunctionDef | None:
        """The one `def name` that a load of `name` at `at` sees, else None."""
        found = self.picture.flow.bindings(name, at)
        if found is None or len(found[1]) != 1 or not isinstance(found[1][0].value, cst.FunctionDef):
            return None
        return found[1][0].value

    def conditions(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        """The tests of the `if`/`while`/conditional expressions and the `try` statements that
        enclose `node`, innermost first (`try` when `node` is in its body)."""
        return self.picture.flow.conditions(node)

