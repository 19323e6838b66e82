"""What kerascheck knows about the project a file belongs to, beyond the file itself.

Rules read it as `ctx.facts`. The Keras target says which Keras the file's code runs on: "3"
(what `pip install tensorflow` gives since TF 2.16) unless something says "2". In order, first
wins: `--target-keras` on the command line (`keras_forced`); the file's own signs of Keras 2
(an import of `tf_keras` / `tensorflow.python.keras`, code that sets `TF_USE_LEGACY_KERAS`);
`per-file-target-keras` and `target-keras` in the configuration; the pins in the project's
dependency files (kerascheck/target.py); else "3".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProjectFacts:
    keras: str = "3"  # the Keras major version the code runs on: "2" or "3"
    keras_source: str = "default"  # where that came from, for messages and --show-settings
    keras_forced: bool = False  # chosen on the command line (`--target-keras`), not inferred
    # What `import keras` (and `tf.keras` without TF_USE_LEGACY_KERAS) is in this project: the
    # target before the file's own markers. A file that imports tf_keras is "2" in `keras` but
    # keeps the project's "3" here (G.2: its `keras.*` names are still Keras 3).
    keras_project: str | None = None  # None: the same as `keras` (no file marker changed it)
    keras_legacy_env: bool = False  # the file sets TF_USE_LEGACY_KERAS: its `tf.keras` is Keras 2 (G.2)
    keras_markers: tuple[str, ...] = ()  # "path:line: code" of each sign of Keras 2 in the file
    keras_notes: tuple[str, ...] = ()  # dependency files skipped, and why (unparsable, conflicting, ...)
    keras_unforced: ProjectFacts | None = None  # with `keras_forced`: what the target would have been

    @property
    def project(self) -> str:
        """The project's Keras, before the file's own markers."""
        return self.keras_project or self.keras

    def flavor_keras(self, flavor: str | None) -> str | None:
        """Which Keras ("2" / "3") names of a flavor stand for in this file; None: cannot tell."""
        if flavor in ("tf_keras", "tf.python.keras"):
            return "2"  # always Keras 2, whatever the target (G.2, F4.10)
        if flavor == "keras":
            return self.project
        if flavor == "tf.keras":
            if self.project == "2":
                return "2"
            return None if self.keras_legacy_env else "3"  # the variable may be set only sometimes
        return None


DEFAULT = ProjectFacts()
