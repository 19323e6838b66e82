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
    def __init__(self, tf: ModuleType, keras: ModuleType, np: ModuleType, workdir: str) -> None:
        self.tf, self.keras, self.np = tf, keras, np
        self.workdir = workdir  # the temporary working directory (removed after the run)
        self.job: dict[str, Any] = {}

    # -- the user's code -----------------------------------------------------------------

    def namespace(self, job: dict[str, Any]) -> dict[str, Any]:
        """Execute the job's slice (imports + needed definitions) and bind its locals.

        Raises CouldNotBuild for a missing dependency or a name only runtime code provides;
        other exceptions of the user's code propagate (the child reports them).
        """
        path = job.get("path", "<slice>")
        ns: dict[str, Any] = {"__name__": "__kerascheck_slice__", "__file__": f"{self.workdir}/slice.py",
                              "__builtins__": __builtins__}
        code = compile(job.get("slice", ""), path, "exec")
        try:
            exec(code, ns)  # noqa: S102 - confirm mode runs the user's definitions on request
        except ImportError as exc:
            raise CouldNotBuild(f"missing dependency: {one_line(str(exc))}{where(exc, path)}") from None
        except NameError as exc:
            raise CouldNotBuild(self.name_reason(exc, path)) from None
        for name, source in job.get("locals", {}).items():
            try:
                ns[name] = self.eval(source, ns)
            except NameError as exc:
                raise CouldNotBuild(self.name_reason(exc, path)) from None
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
        line = self.job.get("skipped", {}).get(name) if name else None
        if line is not None:
            return (f"needs runtime data: `{name}` is set by module-level code (line {line}) "
                    "that confirm mode does not run")
        return f"needs runtime data: {one_line(str(exc))} (a value known only when the code runs)"

    # -- helpers for recipes -----------------------------------------------------------

    def keras_for(self, obj: Any) -> ModuleType:
        """The Keras library an object belongs to: keras (3) or tf_keras (2, legacy)."""
        module = type(obj).__module__ or ""
        if module.startswith("tf_keras") or ".legacy_tf_layers" in module:
            import tf_keras

            return tf_keras
        return self.keras

    def seed(self, value: int = 0, library: ModuleType | None = None) -> None:
        (library or self.keras).utils.set_random_seed(value)

    # -- verdicts ------------------------------------------------------------------------

    @staticmethod
    def confirmed(evidence: str) -> Verdict:
        return Verdict(CONFIRMED, one_line(evidence))

    @staticmethod
    def not_reproduced(evidence: str) -> Verdict:
        return Verdict(NOT_REPRODUCED, one_line(evidence))


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


__all__ = ["Probe", "strip_ansi", "one_line", "describe", "where"]
