"""Which Keras a finding's code was written for, so that confirm mode builds it in that Keras.

TensorFlow-free; runs in the parent when the job is made. A job with `"keras": "2"` goes to the
child that runs with TF_USE_LEGACY_KERAS=1 (where `tf.keras` is tf_keras); `"keras_alias"` also
makes the slice's standalone `import keras` give tf_keras there (what `import keras` was with
TF <= 2.15); `"keras_why"` is said in the evidence. Measured in
tests/measurements/confirm_keras_versions.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import libcst as cst

# Keras 2 libraries: tf_keras, and the copy inside TensorFlow (`tensorflow.python.keras`).
LEGACY_FLAVORS = frozenset({"tf_keras", "tf.python.keras"})
# The public names of standalone `keras.backend` in Keras 3 (measured). Keras 2 code calls many
# more through it (`clip`, `abs`, `dropout`, ...): with Keras 3 they raise AttributeError.
KERAS3_BACKEND = frozenset({
    "backend", "clear_session", "epsilon", "floatx", "get_uid", "image_data_format", "is_float_dtype",
    "is_int_dtype", "is_keras_tensor", "result_type", "set_epsilon", "set_floatx", "set_image_data_format",
    "standardize_dtype",
})
_LEGACY_ENV = "TF_USE_LEGACY_KERAS"
_SETS_LEGACY = re.compile(r"""TF_USE_LEGACY_KERAS['"]\s*(?:\]\s*=|,|:)\s*(?:str\()?['"]?(?:1|True|true)\b""")


def keras2_backend_call(ctx: Any, within: cst.CSTNode | None = None) -> str | None:
    """A standalone-`keras` backend function that only Keras 2 has, used in `within` (default:
    the whole file): `backend.clip`, or None."""
    if any(path == "keras.src" or path.startswith("keras.src.") for path in ctx.picture.names.imports()):
        return None  # Keras 3's own sources: `keras.src.backend` is another module, with all of them
    root = within if within is not None else ctx.picture.module
    for node in ctx.walk(root):
        if not isinstance(node, cst.Attribute):
            continue
        canon = ctx.resolve(node, node)
        if canon is None or canon.flavor != "keras" or not canon.name.startswith("keras.backend."):
            continue
        name = canon.name[len("keras.backend."):]
        if "." not in name and name not in KERAS3_BACKEND:
            return f"keras.backend.{name}"
    return None


def sets_legacy_env(text: str) -> bool:
    """The file sets TF_USE_LEGACY_KERAS to 1 (`os.environ["TF_USE_LEGACY_KERAS"] = "1"`,
    `os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")`, `{"TF_USE_LEGACY_KERAS": "1"}`), not only
    mentions it."""
    return _LEGACY_ENV in text and _SETS_LEGACY.search(text) is not None


def keras_target(ctx: Any, flavors: Iterable[str | None] = (), legacy_idiom: str | None = None) -> dict[str, Any]:
    """The job fields that say which Keras builds the code.

    Keras 2 when the project targets it (`ctx.facts.project == "2"`: its pins, the config,
    `--target-keras 2`; the file's own markers are judged below), when the file sets
    TF_USE_LEGACY_KERAS, when every Keras name the flagged code uses (`flavors`) is tf_keras or
    `tensorflow.python.keras`, when the file calls a Keras-2-only backend function through
    standalone `keras`, or when the recipe saw another Keras-2-only idiom (`legacy_idiom`, said
    in the evidence); else Keras 3."""
    if getattr(ctx.facts, "project", getattr(ctx.facts, "keras", "3")) == "2":
        source = getattr(ctx.facts, "keras_source", "")
        return {"keras": "2", "keras_alias": True,
                "keras_why": f"the project targets Keras 2{f' ({source})' if source and source != 'default' else ''}"}
    if sets_legacy_env(ctx.text):
        return {"keras": "2", "keras_why": f"the file sets {_LEGACY_ENV}"}
    if legacy_idiom:
        return {"keras": "2", "keras_alias": True, "keras_why": legacy_idiom}
    used = {f for f in flavors if f is not None}
    if used and used <= LEGACY_FLAVORS:
        return {"keras": "2", "keras_why": "the code uses " + " and ".join(sorted(
            "tf_keras" if f == "tf_keras" else "tensorflow.python.keras" for f in used))}
    backend = keras2_backend_call(ctx)
    if backend is not None:
        return {"keras": "2", "keras_alias": True,
                "keras_why": f"`{backend}` exists only in Keras 2 (standalone `keras` was Keras 2 then)"}
    return {"keras": "3"}
