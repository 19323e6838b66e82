"""KC004's `legacy-keras` option: a project pinned to Keras 2 gets no TF-op findings."""

from __future__ import annotations

from types import MappingProxyType

from kerascheck.config import Settings
from kerascheck.testing import check_source

SOURCE = (
    "import numpy as np\nimport tensorflow as tf\n"
    "x = tf.keras.Input((8,))\n"
    "y = tf.reduce_sum(x, -1)\n"
    "z = np.sum(x)\n"
    "w = np.ones(8) * x\n"
)


def _lines(settings: Settings | None = None) -> list[tuple[int, str]]:
    return [(f.line, f.message.split(" raises ")[-1][:10]) for f in check_source(SOURCE, select=("KC004",), settings=settings)]


def test_default_is_keras_3():
    assert _lines() == [(4, "ValueError"), (5, "ValueError"), (6, "ValueError")]


def test_legacy_keras_option_keeps_only_numpy_calls():
    pinned = Settings(select=("KC004",), rule_options=MappingProxyType({"KC004": {"legacy-keras": True}}))
    assert _lines(pinned) == [(5, "TypeError:")]
