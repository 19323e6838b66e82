"""Table tests of the project index (kerascheck/project.py) and of the picture across files.

Each test writes a small project into a temporary folder (a `pyproject.toml` marks its root) and
asks the index or the picture what a name is, what a function returns, which files depend on
which; the engine tests check findings end to end.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import libcst as cst
import pytest

from kerascheck import engine
from kerascheck.config import Settings
from kerascheck.names import Names, absolute
from kerascheck.parse import parse_relevant
from kerascheck.picture import build
from kerascheck.project import Index, Summary, summarise


def make(root: Path, files: dict[str, str]) -> Path:
    (root / "pyproject.toml").write_text("")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def index_of(root: Path, *targets: str) -> Index:
    index = Index(root, words=engine.index_words())
    for name in targets:
        index.add(root / name, (root / name).read_bytes(), keep=False)
    return index


def picture(root: Path, name: str, index: Index | None = None):
    index = index or index_of(root, name)
    path = root / name
    text = path.read_text()
    view = index.view(path)
    module = parse_relevant(text, name, None).module
    return build(module, Names(module, project=view), text, project=view)


# ------------------------------------------------------------------ files and names


@pytest.mark.parametrize(("module", "level", "package", "expected"), [
    ("a", 1, "pkg.sub", "pkg.sub.a"),
    ("a", 2, "pkg.sub", "pkg.a"),
    (None, 1, "pkg.sub", "pkg.sub"),
    (None, 2, "pkg.sub", "pkg"),
    ("a", 3, "pkg.sub", None),  # above the top package
    ("a", 1, None, None),  # a script: no package
    ("a.b", 0, None, "a.b"),
])
def test_relative_imports(module, level, package, expected):
    assert absolute(module, level, package) == expected


def test_module_names_and_packages(tmp_path):
    root = make(tmp_path, {"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/mod.py": "",
                           "train.py": "", "scripts/run.py": "", "src/lib/__init__.py": "",
                           "src/lib/core.py": ""})
    index = Index(root)
    assert index.module_name(root / "pkg/sub/mod.py") == ("pkg.sub.mod", "pkg.sub")
    assert index.module_name(root / "pkg/sub/__init__.py") == ("pkg.sub", "pkg.sub")
    assert index.module_name(root / "train.py") == ("train", None)
    assert index.module_name(root / "scripts/run.py") == ("scripts.run", None)  # a namespace package
    assert index.module_name(root / "src/lib/core.py") == ("lib.core", "lib")


@pytest.mark.parametrize(("raw", "expected"), [
    ("core.conv_block", ("def", "core.blocks.conv_block")),  # an `__init__` re-export
    ("core.blocks.conv_block", ("def", "core.blocks.conv_block")),
    ("core.blocks.RATE", ("const", "core.blocks.RATE")),
    ("core.blocks.Block", ("class", "core.blocks.Block")),
    ("core.L.Dropout", ("external", "tensorflow.keras.layers.Dropout")),  # an alias of a library
    ("core.blocks.layers.Dense", ("external", "tensorflow.keras.layers.Dense")),
    ("core.starred.conv_block", ("def", "core.blocks.conv_block")),  # through a star import
    ("core.either.pick", ("def", "core.fast.pick")),  # both branches import the same
    ("core.either.other", None),  # the branches disagree: unknown
    ("core.ring_a.f", ("def", "core.ring_b.f")),  # a cycle of re-exports that ends
    ("core.ring_a.g", None),  # a cycle that does not
    ("core.broken.x", None),  # does not parse
    ("core.missing.x", None),
    ("tools.helper.util", ("def", "tools.helper.util")),  # a namespace package
    ("core.blocks", ("module", "core.blocks")),
    ("os.path", None),  # not the project's
])
def test_resolution(tmp_path, raw, expected):
    root = make(tmp_path, {
        "core/__init__.py": """
            from .blocks import conv_block
            from tensorflow.keras import layers as L
        """,
        "core/blocks.py": """
            from tensorflow.keras import layers
            RATE = 0.5
            def conv_block(x): return layers.Dropout(RATE)(x)
            class Block(layers.Layer): pass
        """,
        "core/starred.py": "from .blocks import *\n",
        "core/either.py": """
            try:
                from .fast import pick, other
            except ImportError:
                from .fast import pick
                from .slow import other
        """,
        "core/fast.py": "def pick(): pass\ndef other(): pass\n",
        "core/slow.py": "def other(): pass\n",
        "core/ring_a.py": "from .ring_b import f, g\n",
        "core/ring_b.py": "from .ring_a import g\ndef f(): pass\n",
        "core/broken.py": "def x(:\n",
        "tools/helper.py": "def util(): pass\n",
        "main.py": "",
    })
    index = Index(root)
    got = index.resolve(raw, root / "main.py")
    assert (None if got is None else (got.kind, got.raw)) == expected


def test_installed_libraries_beside_a_package_are_not_the_project(tmp_path):
    """A package checked where it is installed: its own names resolve, the other libraries
    in the same folder do not."""
    site = tmp_path / "site-packages"
    (site / "mylib" / "src").mkdir(parents=True)
    (site / "mylib" / "__init__.py").write_text("")
    (site / "mylib" / "src" / "__init__.py").write_text("")
    (site / "mylib" / "src" / "a.py").write_text("from absl import flags\nfrom mylib.src.b import f\n")
    (site / "mylib" / "src" / "b.py").write_text("def f(): pass\n")
    (site / "absl").mkdir()
    (site / "absl" / "__init__.py").write_text("flags = 1\n")
    index = Index(None)
    importer = site / "mylib" / "src" / "a.py"
    assert index.resolve("mylib.src.b.f", importer).kind == "def"
    assert index.resolve("absl.flags", importer) is None
    assert index.resolve_raw("absl.flags.DEFINE", importer) == "absl.flags.DEFINE"


def test_names_bind_relative_imports_and_resolve_through_the_project(tmp_path):
    root = make(tmp_path, {
        "pkg/__init__.py": "", "pkg/common.py": "import tensorflow as tf\nL = tf.keras.layers\n",
        "pkg/model.py": "from .common import L\nfrom . import common\nx = L.Dropout\ny = common.L.BatchNormalization\n",
    })
    pic = picture(root, "pkg/model.py")
    body = pic.module.body
    assert pic.resolve(body[2].body[0].value).name == "keras.layers.Dropout"
    assert pic.resolve(body[3].body[0].value).name == "keras.layers.BatchNormalization"
    # Without the project, a relative import stays unknown (as before).
    plain = Names(pic.module)
    assert plain.resolve(body[2].body[0].value, plain.root) is None


# ------------------------------------------------------------------ summaries


def test_summary_of_a_module():
    summary = summarise(textwrap.dedent("""
        import tensorflow as tf
        from . import helpers
        from .layers import *
        L = tf.keras.layers
        RATE = 0.25
        SHAPE = (28, 28, 1)
        maybe = None
        try:
            import tf_keras as keras
        except ImportError:
            from tensorflow import keras
        def block(x, units, rate=RATE, *, name="b"):
            return L.Dense(units)(x)
        def plain(a):
            return a + 1
        class Noisy(L.Layer):
            def call(self, x):
                return x
        counter = 0
        counter += 1
    """), "pkg")
    assert summary["refs"] == {"tf": ["tensorflow"], "helpers": ["pkg.helpers"], "L": ["tensorflow.keras.layers"],
                               "keras": ["tf_keras", "tensorflow.keras"]}
    assert summary["stars"] == ["pkg.layers"]
    assert summary["consts"] == {"RATE": "0.25", "SHAPE": "(28, 28, 1)"}
    assert summary["defs"]["block"]["params"] == [["x", "pos", None, False], ["units", "pos", None, False],
                                                  ["rate", "pos", None, True], ["name", "kw", "'b'", True]]
    assert summary["defs"]["block"]["touches"] and not summary["defs"]["plain"]["touches"]
    assert summary["classes"]["Noisy"]["bases"] == ["L.Layer"] and summary["classes"]["Noisy"]["methods"] == ["call"]
    assert "counter" in summary["other"] and "counter" not in summary["consts"]
    assert summarise("def f(:\n", None) is None


RETURNS = {
    "core/blocks.py": """
        import tensorflow as tf
        from tensorflow.keras import layers
        from .config import WIDTH
        def conv_block(x, filters=WIDTH, rate=0.3):
            x = layers.Conv2D(filters, 3)(x)
            x = layers.Dropout(rate)(x)
            return x
        def maybe_drop(x, rate=0.3):
            x = layers.Conv2D(8, 3)(x)
            if rate:
                x = layers.Dropout(rate)(x)
            return x
        def make_inputs():
            return tf.keras.Input((8,))
        def head(x):
            return tf.reduce_mean(x, axis=1)
        def shape_of(x):
            return x.shape[1:]
        def dropout(rate=0.5):
            return layers.Dropout(rate)
        def factory():
            inputs = make_inputs()
            return tf.keras.Model(inputs, conv_block(inputs))
        def width():
            return WIDTH
        def deep(x, n):
            return deep(x, n - 1) if n else conv_block(x)
        def eager():
            return tf.constant([1.0])
    """,
    "core/config.py": "WIDTH = 32\n",
    "core/__init__.py": "",
    "main.py": "",
}


@pytest.mark.parametrize(("name", "args", "expected"), [
    ("conv_block", None, "a KerasTensor when x is one (output of Dropout at blocks.py:6)"),
    ("conv_block", {"x": Summary("tensor", kt=True)}, "a KerasTensor (output of Dropout at blocks.py:6)"),
    ("maybe_drop", {"x": Summary("tensor", kt=True)}, "a KerasTensor"),  # Conv2D or Dropout: no one layer
    ("make_inputs", None, "a KerasTensor (output of Input at blocks.py:14)"),
    ("head", {"x": Summary("tensor", kt=True)}, "a KerasTensor"),
    ("head", None, "a KerasTensor when x is one"),
    ("shape_of", {"x": Summary("tensor", kt=True)}, "unknown"),  # a shape is not a tensor
    ("dropout", None, "a layer (Dropout at blocks.py:20)"),
    ("factory", None, "a model (Model at blocks.py:23)"),
    ("width", None, "the constant 32"),  # a constant of another module
    ("deep", {"x": Summary("tensor", kt=True)}, "a KerasTensor (output of Dropout at blocks.py:6)"),  # recursion
    ("eager", None, "a tf value"),
])
def test_what_functions_return(tmp_path, name, args, expected):
    root = make(tmp_path, RETURNS)
    index = Index(root)
    sym = index.resolve(f"core.blocks.{name}", root / "main.py")
    assert index.returns(sym, args).describe() == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("Block", ("layer", ("tensorflow.keras.layers.Layer",))),
    ("Deeper", ("layer", ("tensorflow.keras.layers.Layer",))),  # through another module's class
    ("Net", ("model", ("keras.Model",))),
    ("Clip", ("constraint", ("tensorflow.keras.constraints.Constraint",))),
    ("Plain", None),
    ("Loop", None),  # bases in a cycle
])
def test_class_kinds_through_modules(tmp_path, name, expected):
    root = make(tmp_path, {
        "a.py": """
            import tensorflow as tf
            import keras
            class Block(tf.keras.layers.Layer): pass
            class Net(keras.Model): pass
            class Clip(tf.keras.constraints.Constraint): pass
            class Plain(object): pass
        """,
        "b.py": "from a import Block as Base, Plain\nfrom c import Loop as L2\nclass Deeper(Base): pass\n"
                "class Loop(L2): pass\n",
        "c.py": "from b import Loop as L1\nclass Loop(L1): pass\n",
        "main.py": "",
    })
    index = Index(root)
    module = "b" if name in ("Deeper", "Loop") else "a"
    sym = index.resolve(f"{module}.{name}", root / "main.py")
    assert index.class_kind(sym) == expected


def test_touches_follows_the_project(tmp_path):
    root = make(tmp_path, {
        "core/__init__.py": "",
        "core/common.py": "import tensorflow as tf\ndef conv(x): return tf.keras.layers.Conv2D(8, 3)(x)\n",
        "core/net.py": "from core import common\ndef body(x): return common.conv(x)\ndef plain(x): return x + 1\n",
        "main.py": "",
    })
    index = Index(root)
    assert index.touches(index.resolve("core.net.body", root / "main.py"))
    assert not index.touches(index.resolve("core.net.plain", root / "main.py"))


# ------------------------------------------------------------------ the import graph


GRAPH = {
    "app/__init__.py": "",
    "app/leaf.py": "from tensorflow.keras import layers\ndef block(x): return layers.Dropout(0.5)(x)\n",
    "app/middle.py": "from .leaf import (\n    block,\n)\n",
    "app/top.py": "from app.middle import block\n",
    "app/other.py": "import os\n",
    "app/cycle_a.py": "from . import cycle_b\n",
    "app/cycle_b.py": "from . import cycle_a\nfrom .leaf import block\n",
    "train.py": "import app.top as top\nfrom app import other\n",
}


def test_imports_words_and_dependents(tmp_path):
    root = make(tmp_path, GRAPH)
    names = list(GRAPH)
    index = index_of(root, *names)
    rel = lambda paths: sorted(p.relative_to(root).as_posix() for p in paths)  # noqa: E731
    assert rel(index.imports_of(root / "app/middle.py")) == ["app/leaf.py"]
    assert rel(index.closure(root / "train.py")) == ["app/__init__.py", "app/leaf.py", "app/middle.py",
                                                     "app/other.py", "app/top.py"]
    assert b"Dropout" in index.imported_words(root / "app/top.py")
    assert b"Dropout" not in index.imported_words(root / "app/other.py")
    assert rel(index.dependents([root / "app/leaf.py"], [root / n for n in names])) == [
        "app/cycle_a.py", "app/cycle_b.py", "app/middle.py", "app/top.py", "train.py"]


def test_fingerprints_change_with_what_a_file_imports(tmp_path):
    root = make(tmp_path, GRAPH)
    names = list(GRAPH)
    before = {n: index_of(root, *names).fingerprint(root / n) for n in names}
    (root / "app/leaf.py").write_text("from tensorflow.keras import layers\ndef block(x): return x\n")
    after = {n: index_of(root, *names).fingerprint(root / n) for n in names}
    changed = sorted(n for n in names if before[n] != after[n])
    assert changed == ["app/cycle_a.py", "app/cycle_b.py", "app/middle.py", "app/top.py", "train.py"]
    assert before["app/leaf.py"] == "" and before["app/other.py"] == ""  # they import nothing of the project


# ------------------------------------------------------------------ the picture across files


def test_an_imported_helper_gives_the_values_a_same_file_helper_gives(tmp_path):
    root = make(tmp_path, {
        "blocks.py": """
            from tensorflow.keras import layers
            def conv_block(x, rate=0.3):
                x = layers.Conv2D(8, 3)(x)
                return layers.Dropout(rate)(x)
            def drop(rate=0.5):
                return layers.Dropout(rate)
        """,
        "model.py": """
            import tensorflow as tf
            from blocks import conv_block, drop
            inputs = tf.keras.Input((8, 8, 3))
            x = tf.keras.layers.BatchNormalization()(conv_block(inputs))
            d = drop(0.1)
        """,
        "same.py": """
            import tensorflow as tf
            from tensorflow.keras import layers
            def conv_block(x, rate=0.3):
                x = layers.Conv2D(8, 3)(x)
                return layers.Dropout(rate)(x)
            inputs = tf.keras.Input((8, 8, 3))
            x = tf.keras.layers.BatchNormalization()(conv_block(inputs))
        """,
    })
    for name in ("model.py", "same.py"):
        pic = picture(root, name)
        bn = next(a for a in pic.applies if a.layer.short == "BatchNormalization")
        [drop] = list(pic.producers(bn))
        assert drop.layer.name == "keras.layers.Dropout" and drop.via == "functional"
        assert drop.layer.value("rate", 0).lit == 0.3  # the default the call left out
        assert [p.layer.short for p in pic.producers(drop)] == ["Conv2D"]
        assert pic.entry_of(drop.layer.node) is (None if name == "same.py" else pic.entry_of(drop.node))
    pic = picture(root, "model.py")
    entry = pic.entry_of(next(a for a in pic.applies if a.layer.short == "Dropout").node)
    assert entry.path == root / "blocks.py" and entry.qualname == "blocks.conv_block"
    assert isinstance(entry.anchor, cst.Call) and pic.entry_of(entry.anchor) is None  # the call in model.py
    layer = next(ly for ly in pic.layers if ly.short == "Dropout" and ly.value("rate", 0).lit == 0.1)
    assert pic.entry_of(layer.node).qualname == "blocks.drop"


def test_project_classes_constants_and_inherited_methods(tmp_path):
    root = make(tmp_path, {
        "base.py": """
            import tensorflow as tf
            class Base(tf.keras.layers.Layer):
                def __init__(self):
                    super().__init__()
                    self.drop = tf.keras.layers.Dropout(0.5)
                def call(self, x):
                    return self.finish(x)
            class Block(Base):
                pass
        """,
        "config.py": "RATE = 0.0\nUSE_BN = True\n",
        "model.py": """
            import tensorflow as tf
            from base import Block
            from config import RATE, USE_BN
            class Mine(Block):
                def finish(self, x):
                    return tf.nn.dropout(x, 0.5)
            y = Block()(tf.keras.Input((4,)))
            r = RATE
        """,
    })
    pic = picture(root, "model.py")
    [mine] = pic.classes
    assert (mine.kind, [b.name for b in mine.bases]) == ("layer", ["keras.layers.Layer"])
    assert sorted(mine.methods) == ["__init__", "call", "finish"]  # two inherited from another module
    assert pic.entry_of(mine.methods["call"]).qualname == "base.Base"
    assert set(mine.attrs) == {"drop"}  # the inherited __init__ ran for this class
    [event] = [c for c in pic.calls if c.canon.name == "tensorflow.nn.dropout" and c.site.in_call]
    assert event.site.cls is mine and pic.entry_of(event.site.caller).qualname == "base.Base"
    block = next(a for a in pic.applies if a.layer.name == "<local>.Block")
    assert block.layer.canon.flavor == "local"
    assert pic.flow.constant(pic.module.body[-1].body[0].value) == 0.0  # an imported constant


def test_an_imported_model_subclass_is_run_for_the_training_set_up(tmp_path):
    """`Net()` of another module is a model with its call() output (a foreign KerasClass, run
    for that call), so `net.compile(...)` pairs the loss with Net's last layer; a Layer subclass is not run."""
    root = make(tmp_path, {
        "nets.py": """
            import keras
            class Net(keras.Model):
                def __init__(self):
                    super().__init__()
                    self.out = keras.layers.Dense(1)
                def call(self, x):
                    return self.out(x)
            class Block(keras.layers.Layer):
                def call(self, x):
                    return x
        """,
        "train.py": """
            from nets import Block, Net
            net = Net()
            net.compile(loss="mse", metrics=["accuracy"])
            again = Net()
            b = Block()
        """,
    })
    pic = picture(root, "train.py")
    [compiled] = pic.training.compiles
    [output] = compiled.model.outputs
    assert (compiled.model.kind, output.label, output.units, output.activation) == ("subclass", "Dense", 1, "linear")
    # One run per place that instantiates it (its definition is loaded for that call); Block is not run.
    nets = pic.foreign_classes
    assert [(pic.entry_of(kc.node).qualname, kc.kind, set(kc.attrs)) for kc in nets] == [("nets.Net", "model", {"out"})] * 2
    assert [pic.entry_of(kc.node).anchor.func.value for kc in nets] == ["Net", "Net"]
    assert pic.entry_of(output.layer.node).path.name == "nets.py"


def test_past_the_inlining_depth_the_index_answers(tmp_path):
    files = {"m0.py": "import tensorflow as tf\ndef f0(x):\n    return tf.keras.layers.Dense(4)(x)\n"}
    for i in range(1, 8):
        files[f"m{i}.py"] = f"from m{i - 1} import f{i - 1}\ndef f{i}(x):\n    return f{i - 1}(x)\n"
    files["main.py"] = "import tensorflow as tf\nfrom m7 import f7\ny = f7(tf.keras.Input((4,)))\nz = tf.reduce_sum(y)\n"
    root = make(tmp_path, files)
    pic = picture(root, "main.py")
    [event] = [c for c in pic.calls if c.canon.name == "tensorflow.reduce_sum"]
    assert event.symbolic and event.symbolic[0].kt and event.symbolic[0].app is None


# ------------------------------------------------------------------ the engine


def test_a_finding_wholly_inside_another_file_is_that_files_own(tmp_path):
    root = make(tmp_path, {
        "blocks.py": """
            from tensorflow.keras import layers
            def bad(x):
                x = layers.Dropout(0.5)(x)
                return layers.BatchNormalization()(x)
            def normalize(x):
                return layers.BatchNormalization()(x)
        """,
        "model.py": """
            import tensorflow as tf
            from blocks import bad, normalize
            x = bad(tf.keras.Input((8,)))
            y = normalize(tf.keras.layers.Dropout(0.5)(tf.keras.Input((8,))))
        """,
    })
    found = engine.check_text((root / "model.py").read_text(), root / "model.py", Settings(root=root))
    [finding] = found  # the BN of `normalize` gets this file's Dropout; `bad` is blocks.py's own
    assert finding.line == 4 and finding.related[0].path.endswith("blocks.py") and finding.related[0].line == 6
    own = engine.check_text((root / "blocks.py").read_text(), root / "blocks.py", Settings(root=root))
    assert [(f.code, f.line) for f in own] == [("KC001", 4)]


def test_reports_name_the_other_file(tmp_path, monkeypatch):
    from tests.conftest import invoke

    root = make(tmp_path, {
        "blocks.py": "from tensorflow.keras import layers\ndef block(x):\n    return layers.Dropout(0.5)(x)\n",
        "model.py": "import tensorflow as tf\nfrom blocks import block\n"
                    "x = tf.keras.layers.BatchNormalization()(block(tf.keras.Input((8,))))\n",
    })
    text = invoke("check", "--no-cache", "model.py", cwd=root)
    assert "model.py:3:5: KC001 Dropout (line 3 of blocks.py) feeds BatchNormalization" in text.stdout
    assert "  ::: blocks.py:3:12\n3 |     return layers.Dropout(0.5)(x)\n  |            ------------------- the Dropout" \
        in text.stdout
    sarif = json.loads(invoke("check", "--no-cache", "--output-format", "sarif", "model.py", cwd=root).stdout)
    [result] = sarif["runs"][0]["results"]
    assert result["relatedLocations"] == [{
        "id": 0, "message": {"text": "the Dropout that feeds it"},
        "physicalLocation": {"artifactLocation": {"uri": "blocks.py", "uriBaseId": "%SRCROOT%"},
                             "region": {"startLine": 3, "startColumn": 12, "endLine": 3, "endColumn": 31}}}]
    data = json.loads(invoke("check", "--no-cache", "--output-format", "json", "model.py", cwd=root).stdout)
    assert data[0]["related"][0]["path"] == "blocks.py"


def test_named_files_recheck_their_affected_dependents(tmp_path):
    """pre-commit passes the changed files: a file importing one is checked again when what it
    imports changed since its last check, and not when it did not."""
    from tests.conftest import invoke

    root = make(tmp_path, {
        "blocks.py": "from tensorflow.keras import layers\ndef block(x):\n    return layers.Dense(4)(x)\n",
        "model.py": "import tensorflow as tf\nfrom blocks import block\n"
                    "x = tf.keras.layers.BatchNormalization()(block(tf.keras.Input((8,))))\n"
                    "y = tf.keras.layers.Dropout(0.5)(x)\n",
        "other.py": "print('unrelated')\n",
    })
    env = {"KERASCHECK_DEBUG_STATS": "1"}
    first = invoke("check", ".", cwd=root, env=env)
    assert first.returncode == 0, first.stdout
    again = invoke("check", "blocks.py", cwd=root, env=env)
    assert again.returncode == 0 and "dependents=0 candidates=1" in again.stderr  # model.py: unaffected
    (root / "blocks.py").write_text("from tensorflow.keras import layers\ndef block(x):\n"
                                    "    return layers.Dropout(0.5)(x)\n")
    changed = invoke("check", "blocks.py", cwd=root, env=env)
    assert changed.returncode == 1 and "dependents=1 candidates=1" in changed.stderr
    assert "model.py:3:5: KC001 Dropout (line 3 of blocks.py)" in changed.stdout


def test_confirm_says_a_finding_across_files_is_not_built(tmp_path):
    from kerascheck import registry
    from kerascheck.confirm.jobs import build_jobs

    root = make(tmp_path, {
        "blocks.py": "from tensorflow.keras import layers\ndef block(x):\n    return layers.Dropout(0.5)(x)\n",
        "model.py": "import tensorflow as tf\nfrom blocks import block\n"
                    "x = tf.keras.layers.BatchNormalization()(block(tf.keras.Input((8,))))\n",
    })
    [finding] = engine.check_text((root / "model.py").read_text(), root / "model.py", Settings(root=root))
    plan = engine.Plan.make(Settings(root=root), registry.load(), registry.enabled(None, ()))
    [job] = build_jobs([finding], plan)
    assert job == {"_unavailable": f"the finding spans files ({finding.related[0].path}): confirm mode builds one file"}


# train.py has a fixable KC023 finding and a KC001 finding that needs blocks.py.
FIXABLE_ACROSS_FILES = {
    "blocks.py": """
        from keras import layers
        def block(x):
            return layers.Dropout(0.5)(x)
    """,
    "train.py": """
        import keras
        from blocks import block
        inp = keras.layers.InputLayer(input_shape=(8,))
        x = keras.layers.BatchNormalization()(block(keras.Input((8,))))
    """,
}


def test_fix_keeps_the_findings_across_files(tmp_path):
    """--fix re-checks a fixed file with its imports followed: the KC001 finding that needs
    blocks.py is still reported after the KC023 fix, and --diff shows only the fix."""
    from tests.conftest import invoke

    root = make(tmp_path, FIXABLE_ACROSS_FILES)
    diff = invoke("check", "--no-cache", "--diff", "train.py", cwd=root).stdout
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["-inp = keras.layers.InputLayer(input_shape=(8,))", "+inp = keras.layers.InputLayer(shape=(8,))"]
    result = invoke("check", "--no-cache", "--fix", "--output-format", "json", "train.py", cwd=root)
    found = json.loads(result.stdout)
    assert [(f["code"], f["line"], f["related"][0]["path"]) for f in found] == [("KC001", 4, "blocks.py")]
    assert "InputLayer(shape=(8,))" in (root / "train.py").read_text()


def test_fix_writes_only_the_named_file_and_reports_its_dependents(tmp_path):
    """pre-commit passes blocks.py: train.py, which imports it, is checked and reported, and its
    own fixable finding is left for a run that names it."""
    from tests.conftest import invoke

    root = make(tmp_path, FIXABLE_ACROSS_FILES)
    before = (root / "train.py").read_text()
    found = json.loads(invoke("check", "--no-cache", "--fix", "--output-format", "json", "blocks.py", cwd=root).stdout)
    assert sorted((f["path"], f["code"]) for f in found) == [("train.py", "KC001"), ("train.py", "KC023")]
    assert (root / "train.py").read_text() == before
