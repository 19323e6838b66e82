"""What kerascheck knows about the project a file belongs to, beyond the file itself.

Rules read it as `ctx.facts`. The Keras target says which Keras the project runs on: "3"
(what `pip install tensorflow` gives since TF 2.16) unless configuration or the project's
pins say "2".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProjectFacts:
    keras: str = "3"  # the Keras major version the code runs on: "2" or "3"
    keras_source: str = "default"  # where that came from, for messages and --show-settings
    keras_forced: bool = False  # chosen on the command line (`--target-keras`), not inferred


DEFAULT = ProjectFacts()
