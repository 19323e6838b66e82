"""`kerascheck server`, started the way tests/test_server.py needs it beyond the real command.

    python tests/lsp_server.py [--fixable]

`--fixable` adds two rules built here (no rule of today has a fix): KC098 flags the rate of
`Dropout(<number>)` with a safe fix (the rate becomes 0.25) and KC099 flags a
`BatchNormalization` with an unsafe fix (LayerNormalization instead).
With KERASCHECK_TEST_IMPORTS=<file>, every import of TensorFlow or Keras the server tries is
written to <file> (and refused).
"""

from __future__ import annotations

import os
import sys
from importlib.abc import MetaPathFinder

FORBIDDEN = ("tensorflow", "keras", "tf_keras")


class Refuse(MetaPathFinder):
    def __init__(self, record: str) -> None:
        self.record = record

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            with open(self.record, "a", encoding="utf-8") as out:
                out.write(name + "\n")
            raise ImportError(f"the language server must not import {name}")
        return None


def fixable_rules():
    from kerascheck.rule import Edit, Fix, Hit, Rule, literal_number

    def rate(ctx):
        for layer in ctx.picture.layers:
            args = layer.node.args
            if layer.name == "keras.layers.Dropout" and args and args[0].keyword is None \
                    and literal_number(args[0].value) is not None and literal_number(args[0].value) != 0.25:
                value = args[0].value
                yield Hit(value, fmt={"rate": literal_number(value)},
                          fix=Fix((Edit(value, "0.25"),), "safe", "Use a rate of 0.25"))

    def norm(ctx):
        for layer in ctx.picture.layers:
            if layer.name == "keras.layers.BatchNormalization":
                func = layer.node.func
                name = func.attr if hasattr(func, "attr") else func
                yield Hit(layer.node, fix=Fix((Edit(name, "LayerNormalization"),), "unsafe", "Use LayerNormalization"))

    doc = "A rule for tests.\n\n## What it does\nTests.\n\n## Why is this bad?\nIt is not.\n\n" \
          "## Example\n    x\n\n## Use instead\n    y\n"
    return (Rule("KC098", "test-dropout-rate", "Dropout rate {rate}", "info", needs=(b"Dropout",),
                 anchors=("keras.layers.Dropout",), doc=doc, check=rate),
            Rule("KC099", "test-batchnorm", "BatchNormalization here", "info", needs=(b"BatchNormalization",),
                 anchors=("keras.layers.BatchNormalization",), doc=doc, check=norm))


def main() -> None:
    record = os.environ.get("KERASCHECK_TEST_IMPORTS")
    if record:
        sys.meta_path.insert(0, Refuse(record))
    if "--fixable" in sys.argv:
        from kerascheck import registry

        original = registry.load
        extra = fixable_rules()
        registry.load = lambda: tuple(sorted((*original(), *extra), key=lambda r: r.code))
    from kerascheck.cli import main as cli

    cli(["server"])


if __name__ == "__main__":
    main()
