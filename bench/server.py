"""Benchmark: `kerascheck server` with a real LSP client (pygls's), on a 500-line model file.

    python bench/server.py [--lines 500] [--edits 50] [--memory-edits 1000]

Latency: the client changes one number in the file (an incremental `didChange`) and waits for
`publishDiagnostics` of that version; the figure is that wait minus the server's debounce
(DEBOUNCE, the pause the server waits for more typing before it checks). Warm: after 20 edits
the server has seen. Also printed: the server's own CPU time per edit (from /proc, so a busy
machine inflates it less than wall time), and the time of the first check (`didOpen`).

Memory: the server's RSS after warm-up and after --memory-edits more edits, each one checked
(a code-action request after each edit makes the server check that version at once instead
of after the debounce). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kerascheck.server import DEBOUNCE  # noqa: E402

HEADER = '''"""A model zoo module: functional, Sequential and subclassed models."""
import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import constraints, initializers, layers

NUM_CLASSES = 10


def buggy_head(x):
    x = layers.Dropout(0.5)(x)
    x = layers.BatchNormalization()(x)
    return x
'''
BLOCK = '''

def conv_block_{i}(x, filters={f}, rate=0.{r}):
    x = layers.Conv2D(filters, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(filters, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D()(x)
    return layers.Dropout(rate)(x)


def build_functional_{i}(input_shape=(32, 32, 3)):
    inputs = keras.Input(shape=input_shape)
    x = conv_block_{i}(inputs)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="functional_{i}")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_sequential_{i}():
    model = keras.Sequential([
        layers.Dense(256, activation="relu", kernel_constraint=constraints.NonNeg(),
                     kernel_initializer=initializers.RandomUniform(0.0, 0.05)),
        layers.BatchNormalization(),
        layers.Dropout(0.3),
        layers.Dense(NUM_CLASSES),
    ])
    return model


class ResidualUnit{i}(layers.Layer):
    def __init__(self, units, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units)
        self.norm = layers.LayerNormalization()
        self.rate = rate

    def call(self, inputs, training=None):
        h = self.norm(self.dense(inputs))
        if training:
            h = tf.nn.dropout(h, rate=self.rate)
        return inputs + h


def train_{i}(data, labels, epochs={e}):
    model = build_functional_{i}()
    x = np.asarray(data, dtype="float32") / 255.0
    history = model.fit(x, labels, epochs=epochs, validation_split=0.1, verbose=0)
    return model, history
'''


def model_file(lines: int) -> str:
    """A model file of `lines` lines in which every rule has something to read (every
    function reaches libcst), with one KC001 finding."""
    text = HEADER
    i = 0
    while text.count("\n") < lines:
        text += BLOCK.format(i=i, f=32 * (i % 4 + 1), r=i % 5 + 1, e=i % 7 + 3)
        i += 1
    return "\n".join(text.split("\n")[:lines]) + "\n"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Client:
    def __init__(self) -> None:
        self.lsp = LanguageClient("bench", "1")
        self.published: dict[str, list[tuple[int | None, float, int]]] = {}

        @self.lsp.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(ls, params: lsp.PublishDiagnosticsParams) -> None:
            self.published.setdefault(params.uri, []).append((params.version, time.perf_counter(),
                                                              len(params.diagnostics)))

    async def wait(self, uri: str, version: int, timeout: float = 120) -> tuple[float, int]:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for got, at, count in self.published.get(uri, ()):
                if got == version:
                    return at, count
            await asyncio.sleep(0.0005)
        raise TimeoutError(f"no diagnostics for version {version}")


def edit(number: int, line: int, column: int, old: str) -> lsp.TextDocumentContentChangePartial:
    """Replace the number `old` at line:column with another (same length, so positions stay)."""
    new = str(10 + number % 90).rjust(len(old), "1")[-len(old):]
    return lsp.TextDocumentContentChangePartial(
        range=lsp.Range(lsp.Position(line, column), lsp.Position(line, column + len(old))), text=new)


async def main(args) -> None:
    text = model_file(args.lines)
    lines = text.splitlines()
    # the `filters=32` default of conv_block_0: an edit inside one function, as when typing
    line = next(i for i, s in enumerate(lines) if "def conv_block_0(" in s)
    column = lines[line].index("filters=") + len("filters=")
    old = lines[line][column : column + 2]

    client = Client()
    await client.lsp.start_io(sys.executable, "-m", "kerascheck", "server", cwd=str(ROOT))
    pid = client.lsp._server.pid
    await client.lsp.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities(),
                                                           root_uri=ROOT.as_uri()))
    client.lsp.initialized(lsp.InitializedParams())
    uri = (ROOT / "bench" / "zoo_model.py").as_uri()
    sent = time.perf_counter()
    client.lsp.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "python", 0, text)))
    at, count = await client.wait(uri, 0)
    print(f"model file: {args.lines} lines, {count} finding(s); first check (didOpen, cold): "
          f"{(at - sent) * 1000:.0f} ms")

    version = 0

    async def change() -> float:
        nonlocal version
        version += 1
        sent = time.perf_counter()
        client.lsp.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=version), [edit(version, line, column, old)]))
        at, _ = await client.wait(uri, version)
        return at - sent

    for _ in range(20):  # warm-up
        await change()
    cpu_before = cpu_seconds(pid)
    waits = [await change() for _ in range(args.edits)]
    cpu = (cpu_seconds(pid) - cpu_before) / args.edits
    latencies = sorted((w - DEBOUNCE) * 1000 for w in waits)
    print(f"didChange -> publishDiagnostics, warm, minus the {DEBOUNCE * 1000:.0f} ms debounce, {args.edits} edits: "
          f"median {statistics.median(latencies):.1f} ms, p90 {latencies[int(len(latencies) * 0.9)]:.1f} ms, "
          f"min {latencies[0]:.1f} ms")
    print(f"server CPU time per edit (check + protocol): {cpu * 1000:.1f} ms")

    if args.memory_edits:
        before = rss_mb(pid)
        started = time.perf_counter()
        for _ in range(args.memory_edits):
            version += 1
            client.lsp.text_document_did_change(lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(uri=uri, version=version), [edit(version, line, column, old)]))
            await client.lsp.text_document_code_action_async(lsp.CodeActionParams(
                lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)),
                lsp.CodeActionContext(diagnostics=[])))
        await client.wait(uri, version)
        after = rss_mb(pid)
        print(f"server RSS: {before:.1f} MB after warm-up, {after:.1f} MB after {args.memory_edits} more checked "
              f"edits (growth {after - before:+.1f} MB, {time.perf_counter() - started:.0f} s)")

    await client.lsp.shutdown_async(None)
    client.lsp.exit(None)
    await client.lsp.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--memory-edits", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
