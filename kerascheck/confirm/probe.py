"""What a recipe's `confirm(job, probe)` gets: the imported modules and small helpers.

Only the confirm child creates a Probe, after it has imported TensorFlow once.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

from kerascheck.confirm import CONFIRMED, NOT_REPRODUCED, CouldNotBuild, Verdict

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Keras wraps errors raised in `call()` with bold codes (`\\x1b[1m`): KERAS_FACTS, last note."""
    return ANSI.sub("", text)


def one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(strip_ansi(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class Probe:
    """`version` is the Keras this child runs ("3", or "2": TF_USE_LEGACY_KERAS=1, where `tf.keras`
    is tf_keras); `keras` is that library (keras, or tf_keras), `keras3` the Keras 3 package."""

    def __init__(self, tf: ModuleType, keras: ModuleType, np: ModuleType, workdir: str, version: str = "3") -> None:
        self.tf, self.keras, self.np = tf, keras, np
        self.workdir = workdir  # the temporary working directory (removed after the run)
        self.version = version
        self.job: dict[str, Any] = {}
        self.unbound: dict[str, str] = {}  # local -> why it could not be evaluated

    @property
    def keras3(self) -> ModuleType:
        import keras

        return keras

    # -- the user's code -----------------------------------------------------------------

    def builtins(self, job: dict[str, Any]):
        """The slice's builtins. In the Keras 2 child, `tensorflow.python.keras` imports give
        tf_keras, and so do standalone `keras` imports when the job says the code was written for
        Keras 2 (`keras_alias`: `keras.backend.clip`, a Keras 2 project): with TF <= 2.15 `import
        keras` was Keras 2. Only the slice's own imports are redirected, never a library's."""
        import builtins

        if self.version != "2":
            return builtins
        import importlib

        alias = bool(job.get("keras_alias"))
        real = builtins.__import__

        def redirect(name: str) -> str | None:
            for prefix in ("tensorflow.python.keras", *(("keras",) if alias else ())):
                if name == prefix or name.startswith(prefix + "."):
                    rest = name[len(prefix):]
                    for target in ("tf_keras" + rest, "tf_keras.src" + rest):
                        try:
                            importlib.import_module(target)
                            return target
                        except ImportError:
                            continue
            return None

        def import_(name, globals=None, locals=None, fromlist=(), level=0):
            target = redirect(name) if level == 0 else None
            if target is None or (not fromlist and name.startswith("tensorflow.")):
                return real(name, globals, locals, fromlist, level)
            module = importlib.import_module(target)
            if fromlist:
                return module
            return importlib.import_module("tf_keras")  # `import keras.layers` binds the package

        return {**builtins.__dict__, "__import__": import_}

    def namespace(self, job: dict[str, Any]) -> dict[str, Any]:
        """Execute the job's slice (imports + needed definitions) and bind its locals.

        Raises CouldNotBuild for a missing dependency or a name only runtime code provides;
        other exceptions of the user's code propagate (the child reports them). A local that
        cannot be evaluated is left unbound: only a recipe that needs it fails, with the reason.
        """
        path = job.get("path", "<slice>")
        ns: dict[str, Any] = {"__name__": "__kerascheck_slice__", "__file__": f"{self.workdir}/slice.py",
                              "__builtins__": self.builtins(job)}
        code = compile(job.get("slice", ""), path, "exec")
        try:
            exec(code, ns)  # noqa: S102 - confirm mode runs the user's definitions on request
        except ImportError as exc:
            raise CouldNotBuild(f"missing dependency: {one_line(str(exc))}{where(exc, path)}") from None
        except NameError as exc:
            raise CouldNotBuild(self.name_reason(exc, path)) from None
        self.unbound = {}
        for name, source in job.get("locals", {}).items():
            try:
                ns[name] = self.eval(source, ns)
            except CouldNotBuild as exc:
                self.unbound[name] = str(exc)
            except Exception as exc:  # noqa: BLE001 - reported if the recipe needs the name
                self.unbound[name] = f"`{name} = {one_line(source, 60)}` raised {describe(exc, path)}"
        return ns

    def eval(self, source: str, ns: dict[str, Any]) -> Any:
        """Evaluate an expression of the user's file (e.g. a layer constructor) in the slice."""
        path = self.job.get("path", "<slice>")
        try:
            return eval(compile("(" + source + "\n)", path, "eval"), ns)  # noqa: S307
        except NameError as exc:
            raise CouldNotBuild(self.name_reason(exc, path)) from None

    def name_reason(self, exc: NameError, path: str) -> str:
        name = getattr(exc, "name", None)
        if name and name in self.unbound:
            return self.unbound[name]
        line = self.job.get("skipped", {}).get(name) if name else None
        if line is not None:
            return (f"needs runtime data: `{name}` is set by module-level code (line {line}) "
                    "that confirm mode does not run")
        return f"needs runtime data: {one_line(str(exc))} (a value known only when the code runs)"

    # -- helpers for recipes -----------------------------------------------------------

    def keras_for(self, obj: Any) -> ModuleType:
        """The Keras library an object belongs to: keras (3) or tf_keras (2, legacy)."""
        module = type(obj).__module__ or ""
        if module.startswith(("tf_keras", "tensorflow.python.keras")) or ".legacy_tf_layers" in module:
            import tf_keras

            return tf_keras
        if module.startswith("keras"):
            return self.keras3
        return self.keras

    def seed(self, value: int = 0, library: ModuleType | None = None) -> None:
        (library or self.keras).utils.set_random_seed(value)

    # -- verdicts ------------------------------------------------------------------------

    @staticmethod
    def confirmed(evidence: str) -> Verdict:
        return Verdict(CONFIRMED, one_line(evidence, 400))

    @staticmethod
    def not_reproduced(evidence: str) -> Verdict:
        return Verdict(NOT_REPRODUCED, one_line(evidence, 400))


def fatal(exc: BaseException) -> None:
    """Re-raise what a recipe must not take for a failed attempt (a shape that does not fit): the
    memory cap (MemoryError, TensorFlow's ResourceExhaustedError), so the child reports it as such."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "ResourceExhaustedError":
        raise exc


def where(exc: BaseException, path: str) -> str:
    """` (line N)`: the deepest traceback frame in the user's file, if any."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line is not None else ""


def describe(exc: BaseException, path: str) -> str:
    """`Type: message (line N)` on one line, ANSI codes stripped."""
    message = one_line(str(exc)) or "(no message)"
    return f"{type(exc).__name__}: {message}{where(exc, path)}"


__all__ = ["Probe", "strip_ansi", "one_line", "describe", "where", "fatal"]
