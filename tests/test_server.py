"""`kerascheck server`: the real server in a subprocess, driven by a real LSP client
(pytest-lsp's, which is pygls's client plus checks of every message against the LSP spec
and the client's capabilities)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types as lsp  # noqa: E402
from pygls.exceptions import JsonRpcException  # noqa: E402
from pytest_lsp import LanguageClient, client_capabilities  # noqa: E402
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features  # noqa: E402

from conftest import ROOT, run_cli  # noqa: E402

SERVER = [sys.executable, "-m", "kerascheck", "server"]
HARNESS = [sys.executable, str(Path(__file__).with_name("lsp_server.py"))]
TIMEOUT = 120  # seconds: the machine running the tests may be busy

MODEL = """import keras
from keras import layers

model = keras.Sequential([
    layers.Dense(64, activation="relu"),
    layers.Dropout(0.5),
    layers.BatchNormalization(),
    layers.Dense(10),
])
"""
FIXED = MODEL.replace('    layers.Dropout(0.5),\n    layers.BatchNormalization(),\n',
                      '    layers.BatchNormalization(),\n    layers.Dropout(0.5),\n')


def _published(client: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
    params.diagnostics = list(params.diagnostics)
    client.diagnostics[params.uri] = params.diagnostics
    client.published.append(params)


def _register(client: LanguageClient, params: lsp.RegistrationParams) -> None:
    client.registrations.extend(params.registrations)


@asynccontextmanager
async def session(command=SERVER, *, init=None, caps="visual_studio_code", root: Path | None = None,
                  notebooks: bool = False, env: dict | None = None, shutdown: bool = True):
    client = LanguageClient()
    client.published = []
    client.registrations = []
    register_lsp_features(client, {**DEFAULT_CLIENT_FEATURES, lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: _published,
                                   lsp.CLIENT_REGISTER_CAPABILITY: _register})
    await client.start_io(*command, cwd=str(root or ROOT), env={**os.environ, **(env or {})})
    capabilities = client_capabilities(caps) if isinstance(caps, str) else caps
    if notebooks:
        capabilities.notebook_document = lsp.NotebookDocumentClientCapabilities(
            synchronization=lsp.NotebookDocumentSyncClientCapabilities())
    client.init_result = await asyncio.wait_for(client.initialize_session(lsp.InitializeParams(
        capabilities=capabilities, root_uri=(root or ROOT).as_uri(), initialization_options=init)), TIMEOUT)
    try:
        yield client
        if shutdown:
            await asyncio.wait_for(client.shutdown_session(), TIMEOUT)
    finally:
        if client._server.returncode is None:
            client._server.kill()
        await client.stop()


async def publish_for(client: LanguageClient, uri: str, seen: int = 0) -> lsp.PublishDiagnosticsParams:
    """The first publishDiagnostics for `uri` among those received after the first `seen`."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for params in client.published[seen:]:
            if params.uri == uri:
                return params
        await asyncio.sleep(0.01)
    raise AssertionError(f"no diagnostics for {uri}")


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "python", version, text)))


def lines_of(text: str) -> list[str]:
    """Lines as LSP splits them (\\n, \\r\\n, \\r), with their ends."""
    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)


def apply(text: str, edits: list[lsp.TextEdit]) -> str:
    """What an editor does with TextEdits (positions in UTF-16, none overlapping)."""
    lines = lines_of(text)

    def index(pos: lsp.Position) -> int:
        before = sum(len(line) for line in lines[: pos.line])
        line = lines[pos.line] if pos.line < len(lines) else ""
        units = 0
        for i, char in enumerate(line):
            if units >= pos.character:
                return before + i
            units += 2 if ord(char) > 0xFFFF else 1
        return before + len(line.rstrip("\r\n"))

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: index(edit.range.start)] + edit.new_text + text[index(edit.range.end):]
        lines = lines_of(text)
    return text


def edits_of(action: lsp.CodeAction, uri: str) -> list[lsp.TextEdit]:
    edit = action.edit
    if edit.document_changes:
        return [e for change in edit.document_changes if change.text_document.uri == uri for e in change.edits]
    return list(edit.changes.get(uri, []))


def run(coro):
    return asyncio.run(coro)


# ------------------------------------------------------------------ the protocol


def test_initialize_advertises_what_the_server_does():
    async def go():
        async with session(notebooks=True) as client:
            result = client.init_result
            caps = result.capabilities
            assert result.server_info.name == "kerascheck"
            assert caps.text_document_sync.change == lsp.TextDocumentSyncKind.Incremental
            assert caps.text_document_sync.open_close and caps.text_document_sync.save
            assert set(caps.code_action_provider.code_action_kinds) == {"quickfix", "source.fixAll.kerascheck"}
            assert caps.hover_provider
            [selector] = caps.notebook_document_sync.notebook_selector
            assert [c.language for c in selector.cells] == ["python"]
            deadline = time.monotonic() + TIMEOUT  # the watcher registration follows `initialized`
            while not client.registrations and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            [registration] = client.registrations
            assert registration.method == "workspace/didChangeWatchedFiles"
            globs = {w["globPattern"] for w in registration.register_options["watchers"]}
            assert {"**/pyproject.toml", "**/kerascheck.toml", "**/.kerascheck.toml"} <= globs

    run(go())


def test_dropout_before_batchnorm_is_published_then_cleared_by_the_fix(tmp_path):
    uri = (tmp_path / "model.py").as_uri()

    async def go():
        async with session(root=tmp_path) as client:
            open_doc(client, uri, MODEL)
            params = await publish_for(client, uri)
            [diag] = params.diagnostics
            assert params.version == 1
            assert diag.code == "KC001" and diag.source == "kerascheck"
            assert diag.severity == lsp.DiagnosticSeverity.Warning
            # `layers.BatchNormalization()` on line 7 (0-based 6), columns 4..31
            assert (diag.range.start.line, diag.range.start.character, diag.range.end.line,
                    diag.range.end.character) == (6, 4, 6, 31)
            # the rule's documentation: its module, whose docstring `kerascheck rule KC001` prints
            assert diag.code_description.href.startswith("file://")
            assert diag.code_description.href.endswith("/kc001_dropout_before_batchnorm.py")
            [related] = diag.related_information
            assert related.location.uri == uri and related.location.range.start.line == 5
            assert related.message == "the Dropout that feeds it"
            assert "Dropout (line 6) feeds BatchNormalization" in diag.message

            # Two quick edits, the second one removing the bug: one check, of the last version.
            seen = len(client.published)
            client.text_document_did_change(lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
                [lsp.TextDocumentContentChangePartial(range=lsp.Range(lsp.Position(5, 19), lsp.Position(5, 22)),
                                                      text="0.25")]))
            client.text_document_did_change(lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(uri=uri, version=3),
                [lsp.TextDocumentContentChangePartial(range=lsp.Range(lsp.Position(5, 0), lsp.Position(7, 0)),
                                                      text="    layers.BatchNormalization(),\n"
                                                           "    layers.Dropout(0.5),\n")]))
            params = await publish_for(client, uri, seen)
            assert params.version == 3 and params.diagnostics == []
            await asyncio.sleep(0.5)
            assert [p.version for p in client.published[seen:]] == [3], "the debounce merges quick edits"

            seen = len(client.published)
            client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri)))
            params = await publish_for(client, uri, seen)
            assert params.diagnostics == []

    run(go())


def test_positions_are_in_the_clients_encoding_and_lines_split_as_lsp_splits_them(tmp_path):
    """A form feed is no line break for LSP (str.splitlines would make it one); columns after
    an emoji count UTF-16 units by default, code points when the client asks for UTF-32."""
    uri = (tmp_path / "model.py").as_uri()
    text = ('import keras\nfrom keras import layers\n\x0c\nlabel = "\U0001F600"\n'
            'model = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])  # \U0001F600\n')
    line = lines_of(text)[4].rstrip("\n")

    async def go(encoding, units):
        caps = client_capabilities("visual_studio_code")
        if encoding is not None:
            caps.general = lsp.GeneralClientCapabilities(position_encodings=[encoding])
        async with session(root=tmp_path, caps=caps) as client:
            open_doc(client, uri, text)
            [diag] = (await publish_for(client, uri)).diagnostics
            assert (diag.range.start.line, diag.range.start.character) == (4, 47)
            # Insert before the closing quote after the emoji: 11 UTF-16 units, 10 code points in.
            seen = len(client.published)
            client.text_document_did_change(lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
                [lsp.TextDocumentContentChangePartial(range=lsp.Range(lsp.Position(3, units(10)),
                                                                      lsp.Position(3, units(10))), text="!")]))
            [diag] = (await publish_for(client, uri, seen)).diagnostics  # a misplaced `!` would be KC000
            assert diag.code == "KC001"
            result = await client.text_document_code_action_async(lsp.CodeActionParams(
                lsp.TextDocumentIdentifier(uri), diag.range, lsp.CodeActionContext(diagnostics=[diag])))
            [noqa] = [a for a in result if a.title == "Disable KC001 for this line"]
            [edit] = edits_of(noqa, uri)
            assert (edit.range.start.line, edit.range.start.character) == (4, units(len(line)))

    run(go(None, lambda chars: chars + 1))  # UTF-16: the emoji before column `chars` is 2 units
    run(go(lsp.PositionEncodingKind.Utf32, lambda chars: chars))


def test_noqa_action_silences_the_finding_once_applied(tmp_path):
    uri = (tmp_path / "model.py").as_uri()
    commented = MODEL.replace("layers.BatchNormalization(),", "layers.BatchNormalization(),  # noqa: E501")

    async def go():
        async with session(root=tmp_path) as client:
            for version, text, expected in ((1, MODEL, "layers.BatchNormalization(),  # noqa: KC001"),
                                            (2, commented, "layers.BatchNormalization(),  # noqa: E501, KC001")):
                seen = len(client.published)
                open_doc(client, uri, text, version)
                [diag] = (await publish_for(client, uri, seen)).diagnostics
                result = await client.text_document_code_action_async(lsp.CodeActionParams(
                    lsp.TextDocumentIdentifier(uri), diag.range, lsp.CodeActionContext(diagnostics=[diag])))
                [action] = [a for a in result if a.title == "Disable KC001 for this line"]
                assert action.kind == lsp.CodeActionKind.QuickFix and action.diagnostics[0].code == "KC001"
                new = apply(text, edits_of(action, uri))
                assert new.splitlines()[6] == f"    {expected}"
                seen = len(client.published)
                client.text_document_did_change(lsp.DidChangeTextDocumentParams(
                    lsp.VersionedTextDocumentIdentifier(uri=uri, version=version + 10), [lsp.TextDocumentContentChangeWholeDocument(new)]))
                assert (await publish_for(client, uri, seen)).diagnostics == []
                # The request for a part of the file without a finding offers nothing.
                none = await client.text_document_code_action_async(lsp.CodeActionParams(
                    lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(0, 0), lsp.Position(0, 3)),
                    lsp.CodeActionContext(diagnostics=[])))
                assert not none

    run(go())


def test_hover_on_a_diagnostic_shows_the_rule_docs(tmp_path):
    uri = (tmp_path / "model.py").as_uri()

    async def go():
        async with session(root=tmp_path) as client:
            open_doc(client, uri, MODEL)
            [diag] = (await publish_for(client, uri)).diagnostics
            inside = lsp.Position(diag.range.start.line, diag.range.start.character + 5)
            hover = await client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(uri), inside))
            text = hover.contents.value
            assert hover.contents.kind == lsp.MarkupKind.Markdown and hover.range == diag.range
            assert text.startswith("**KC001** `dropout-before-batchnorm` (warning)")
            positions = [text.index(h) for h in ("## What it does", "## Why is this bad?", "## Example", "## Use instead")]
            assert positions == sorted(positions)
            elsewhere = await client.text_document_hover_async(lsp.HoverParams(lsp.TextDocumentIdentifier(uri),
                                                                               lsp.Position(0, 2)))
            assert elsewhere is None

    run(go())


# ------------------------------------------------------------------ fixes


FIXABLE = """import keras
from keras import layers

model = keras.Sequential([
    layers.Dense(64, activation="relu"),
    layers.Dropout(0.5),
    layers.BatchNormalization(),
    layers.Dropout(0.3),
])
"""


def test_fixes_safe_unsafe_and_fix_all(tmp_path):
    """With two rules built by tests/lsp_server.py: KC098 (safe fix) and KC099 (unsafe fix)."""
    uri = (tmp_path / "model.py").as_uri()

    async def go():
        async with session(HARNESS + ["--fixable"], root=tmp_path) as client:
            open_doc(client, uri, FIXABLE)
            diags = (await publish_for(client, uri)).diagnostics
            assert sorted(d.code for d in diags) == ["KC001", "KC098", "KC098", "KC099"]
            [norm] = [d for d in diags if d.code == "KC099"]
            result = await client.text_document_code_action_async(lsp.CodeActionParams(
                lsp.TextDocumentIdentifier(uri), norm.range, lsp.CodeActionContext(diagnostics=[norm])))
            titles = {a.title: a for a in result}
            unsafe = titles["KC099: Use LayerNormalization (unsafe fix)"]
            assert unsafe.kind == lsp.CodeActionKind.QuickFix and not unsafe.is_preferred
            assert "layers.LayerNormalization()," in apply(FIXABLE, edits_of(unsafe, uri))
            assert "Disable KC099 for this line" in titles and "Disable KC001 for this line" in titles
            assert not any(a.kind == "source.fixAll.kerascheck" for a in result if a.title.startswith("KC"))

            [rate] = [d for d in diags if d.code == "KC098" and d.range.start.line == 5]
            result = await client.text_document_code_action_async(lsp.CodeActionParams(
                lsp.TextDocumentIdentifier(uri), rate.range, lsp.CodeActionContext(diagnostics=[rate],
                                                                                   only=["quickfix"])))
            [safe] = [a for a in result if a.title == "KC098: Use a rate of 0.25"]
            assert safe.is_preferred and all(a.kind == "quickfix" for a in result)
            assert apply(FIXABLE, edits_of(safe, uri)).splitlines()[5] == "    layers.Dropout(0.25),"

            result = await client.text_document_code_action_async(lsp.CodeActionParams(
                lsp.TextDocumentIdentifier(uri), lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)),
                lsp.CodeActionContext(diagnostics=[], only=["source.fixAll"])))
            [fix_all] = result
            assert fix_all.kind == "source.fixAll.kerascheck"
            fixed = apply(FIXABLE, edits_of(fix_all, uri))
            assert fixed == FIXABLE.replace("Dropout(0.5)", "Dropout(0.25)").replace("Dropout(0.3)", "Dropout(0.25)")
            seen = len(client.published)
            client.text_document_did_change(lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(uri=uri, version=2), [lsp.TextDocumentContentChangeWholeDocument(fixed)]))
            left = (await publish_for(client, uri, seen)).diagnostics
            assert sorted(d.code for d in left) == ["KC001", "KC099"], "only unsafe fixes and no fix are left"

    run(go())


# ------------------------------------------------------------------ notebooks


def _cells(*cells):
    return [(f"vscode-notebook-cell:/nb/model.ipynb#cell{i}", kind, text) for i, (kind, text) in enumerate(cells)]


def test_notebook_cells_get_their_own_diagnostics(tmp_path):
    nb_uri = (tmp_path / "model.ipynb").as_uri()
    cells = _cells((lsp.NotebookCellKind.Code, "import keras\nfrom keras import layers\n%matplotlib inline\n"),
                   (lsp.NotebookCellKind.Markup, "# The model"),
                   (lsp.NotebookCellKind.Code, "x = keras.Input((8,))\nx = layers.Dropout(0.5)(x)\n"),
                   (lsp.NotebookCellKind.Code, "y = layers.BatchNormalization()(x)\n"))

    async def go():
        async with session(root=tmp_path, notebooks=True) as client:
            client.notebook_document_did_open(lsp.DidOpenNotebookDocumentParams(
                lsp.NotebookDocument(uri=nb_uri, notebook_type="jupyter-notebook", version=1,
                                     cells=[lsp.NotebookCell(kind, uri) for uri, kind, _ in cells]),
                [lsp.TextDocumentItem(uri, "python", 1, text) for uri, kind, text in cells
                 if kind == lsp.NotebookCellKind.Code]))
            last = await publish_for(client, cells[3][0])
            [diag] = last.diagnostics
            assert diag.code == "KC001" and (diag.range.start.line, diag.range.start.character) == (0, 4)
            assert "line 2 of cell 3" in diag.message  # markdown cells count, as in `kerascheck check`
            [related] = diag.related_information
            assert related.location.uri == cells[2][0] and related.location.range.start.line == 1
            for uri in (cells[0][0], cells[2][0]):
                assert client.diagnostics[uri] == []
            assert cells[1][0] not in client.diagnostics

            hover = await client.text_document_hover_async(lsp.HoverParams(
                lsp.TextDocumentIdentifier(cells[3][0]), lsp.Position(0, 6)))
            assert hover.contents.value.startswith("**KC001**")
            result = await client.text_document_code_action_async(lsp.CodeActionParams(
                lsp.TextDocumentIdentifier(cells[3][0]), diag.range, lsp.CodeActionContext(diagnostics=[diag])))
            [noqa] = [a for a in result if a.title == "Disable KC001 for this line"]
            assert apply(cells[3][2], edits_of(noqa, cells[3][0])) == \
                "y = layers.BatchNormalization()(x)  # noqa: KC001\n"

            # Edit cell 3 (the Dropout goes): the finding on cell 4 goes with it.
            seen = len(client.published)
            client.notebook_document_did_change(lsp.DidChangeNotebookDocumentParams(
                lsp.VersionedNotebookDocumentIdentifier(uri=nb_uri, version=2),
                lsp.NotebookDocumentChangeEvent(cells=lsp.NotebookDocumentCellChanges(text_content=[
                    lsp.NotebookDocumentCellContentChanges(
                        lsp.VersionedTextDocumentIdentifier(uri=cells[2][0], version=2),
                        [lsp.TextDocumentContentChangePartial(range=lsp.Range(lsp.Position(1, 4), lsp.Position(1, 26)),
                                                              text="layers.Dense(4)")])]))))
            assert (await publish_for(client, cells[3][0], seen)).diagnostics == []

            # A new cell with the bug, inserted before the last one.
            seen = len(client.published)
            new_uri = "vscode-notebook-cell:/nb/model.ipynb#new"
            client.notebook_document_did_change(lsp.DidChangeNotebookDocumentParams(
                lsp.VersionedNotebookDocumentIdentifier(uri=nb_uri, version=3),
                lsp.NotebookDocumentChangeEvent(cells=lsp.NotebookDocumentCellChanges(
                    structure=lsp.NotebookDocumentCellChangeStructure(
                        array=lsp.NotebookCellArrayChange(3, 0, [lsp.NotebookCell(lsp.NotebookCellKind.Code, new_uri)]),
                        did_open=[lsp.TextDocumentItem(new_uri, "python", 1, "x = layers.SpatialDropout1D(0.2)(x)\n")])))))
            [diag] = (await publish_for(client, cells[3][0], seen)).diagnostics
            assert "line 1 of cell 4" in diag.message

            seen = len(client.published)
            client.notebook_document_did_close(lsp.DidCloseNotebookDocumentParams(
                lsp.NotebookDocumentIdentifier(nb_uri),
                [lsp.TextDocumentIdentifier(uri) for uri, kind, _ in cells if kind == lsp.NotebookCellKind.Code]
                + [lsp.TextDocumentIdentifier(new_uri)]))
            assert (await publish_for(client, cells[3][0], seen)).diagnostics == []

    run(go())


# ------------------------------------------------------------------ settings


def test_settings_come_from_the_config_and_follow_its_changes(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.kerascheck]\nignore = ["KC001"]\n')
    (tmp_path / "tests").mkdir()
    uri = (tmp_path / "model.py").as_uri()
    test_uri = (tmp_path / "tests" / "test_model.py").as_uri()

    async def go():
        async with session(root=tmp_path) as client:
            open_doc(client, uri, MODEL)
            assert (await publish_for(client, uri)).diagnostics == []
            # The config changes: per-file ignores now, the way `kerascheck check` reads them.
            (tmp_path / "pyproject.toml").write_text(
                '[tool.kerascheck]\nper-file-ignores = { "tests/*" = ["KC001"] }\n')
            seen = len(client.published)
            client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(
                [lsp.FileEvent((tmp_path / "pyproject.toml").as_uri(), lsp.FileChangeType.Changed)]))
            [diag] = (await publish_for(client, uri, seen)).diagnostics
            assert diag.code == "KC001"
            seen = len(client.published)
            open_doc(client, test_uri, MODEL)
            assert (await publish_for(client, test_uri, seen)).diagnostics == []
            # A broken config is one diagnostic that says so, as the CLI's exit 2 would.
            (tmp_path / "pyproject.toml").write_text('[tool.kerascheck]\nselect = ["KC999"]\n')
            seen = len(client.published)
            client.workspace_did_change_watched_files(lsp.DidChangeWatchedFilesParams(
                [lsp.FileEvent((tmp_path / "pyproject.toml").as_uri(), lsp.FileChangeType.Changed)]))
            [diag] = (await publish_for(client, uri, seen)).diagnostics
            assert "KC999" in diag.message and diag.severity == lsp.DiagnosticSeverity.Error

    run(go())


def test_initialization_options_override_select_and_ignore(tmp_path):
    (tmp_path / "kerascheck.toml").write_text('select = ["KC002"]\n')
    uri = (tmp_path / "model.py").as_uri()

    async def go():
        async with session(root=tmp_path) as client:
            open_doc(client, uri, MODEL)
            assert (await publish_for(client, uri)).diagnostics == []
        async with session(root=tmp_path, init={"select": ["KC001"]}) as client:
            open_doc(client, uri, MODEL)
            assert [d.code for d in (await publish_for(client, uri)).diagnostics] == ["KC001"]
        async with session(root=tmp_path, init={"select": ["KC0"], "ignore": "KC001"}) as client:
            open_doc(client, uri, MODEL)
            assert (await publish_for(client, uri)).diagnostics == []

    run(go())


# ------------------------------------------------------------------ robustness


def test_a_syntax_error_is_one_diagnostic_and_the_server_goes_on(tmp_path):
    uri = (tmp_path / "model.py").as_uri()
    broken = MODEL.replace("layers.Dense(10),", "layers.Dense(10,")

    async def go():
        async with session(root=tmp_path) as client:
            open_doc(client, uri, broken)
            [diag] = (await publish_for(client, uri)).diagnostics
            assert diag.code == "KC000" and diag.severity == lsp.DiagnosticSeverity.Error
            assert "syntax error" in diag.message
            assert diag.range.start.line in (7, 8) and diag.range.end.character > diag.range.start.character
            result = await client.text_document_code_action_async(lsp.CodeActionParams(
                lsp.TextDocumentIdentifier(uri), diag.range, lsp.CodeActionContext(diagnostics=[diag])))
            assert not result, "no noqa for a file that does not parse"
            seen = len(client.published)
            client.text_document_did_change(lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(uri=uri, version=2), [lsp.TextDocumentContentChangeWholeDocument(MODEL)]))
            assert [d.code for d in (await publish_for(client, uri, seen)).diagnostics] == ["KC001"]

    run(go())


def test_unknown_documents_and_malformed_messages_do_not_stop_the_server(tmp_path):
    uri = (tmp_path / "model.py").as_uri()

    async def go():
        async with session(root=tmp_path) as client:
            with pytest.raises(JsonRpcException) as info:
                await client.text_document_hover_async(lsp.HoverParams(
                    lsp.TextDocumentIdentifier((tmp_path / "never_opened.py").as_uri()), lsp.Position(0, 0)))
            assert info.value.code == lsp.LSPErrorCodes.RequestFailed and "no open document" in info.value.message
            with pytest.raises(JsonRpcException):
                await client.text_document_code_action_async(lsp.CodeActionParams(
                    lsp.TextDocumentIdentifier((tmp_path / "never_opened.py").as_uri()),
                    lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0)), lsp.CodeActionContext(diagnostics=[])))
            stdin = client._server.stdin
            for body in (b"{not json", b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"x": 1}}',
                         b'{"jsonrpc": "2.0", "method": "textDocument/didChange", "params": '
                         b'{"textDocument": {"uri": "file:///nowhere.py", "version": 2}, "contentChanges": []}}'):
                stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            # A request whose parameters cannot be read gets an error response.
            answer = concurrent.futures.Future()
            client.protocol._request_futures[999] = answer
            bad = b'{"jsonrpc": "2.0", "id": 999, "method": "textDocument/hover", "params": {"position": 3}}'
            stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(bad), bad))
            await stdin.drain()
            with pytest.raises(JsonRpcException) as info:
                await asyncio.wait_for(asyncio.wrap_future(answer), TIMEOUT)
            assert info.value.code == -32602  # invalid params
            open_doc(client, uri, MODEL)
            assert [d.code for d in (await publish_for(client, uri)).diagnostics] == ["KC001"]

    run(go())


def test_exit_code_is_0_after_shutdown_and_1_without(tmp_path):
    async def go(shutdown_first: bool) -> int:
        async with session(root=tmp_path, shutdown=False) as client:
            if shutdown_first:
                await client.shutdown_async(None)
            client.exit(None)
            return await asyncio.wait_for(client._server.wait(), TIMEOUT)

    assert run(go(True)) == 0
    assert run(go(False)) == 1


def test_the_server_never_imports_tensorflow(tmp_path):
    record = tmp_path / "imports.txt"
    uri = (tmp_path / "model.py").as_uri()

    async def go():
        async with session(HARNESS, root=tmp_path, env={"KERASCHECK_TEST_IMPORTS": str(record)}) as client:
            open_doc(client, uri, MODEL)
            assert [d.code for d in (await publish_for(client, uri)).diagnostics] == ["KC001"]

    run(go())
    assert not record.exists() or record.read_text() == ""


# ------------------------------------------------------------------ the command


def test_server_without_pygls_exits_2_with_the_install_line(tmp_path):
    (tmp_path / "pygls").mkdir()
    (tmp_path / "pygls" / "__init__.py").write_text("raise ImportError('No module named pygls')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    result = subprocess.run(SERVER, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert "needs pygls" in result.stderr and "pip install pygls" in result.stderr


def test_check_never_imports_pygls():
    code = ("import sys\nfrom kerascheck.cli import main\nsys.argv = ['kerascheck', 'check', 'fixtures/kc001', "
            "'--no-cache', '--jobs', '1']\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pygls', 'lsprotocol', 'cattrs')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_the_server_agrees_with_the_cli_on_every_fixture():
    """Same findings, at the same places, as `kerascheck check --format json`."""
    # fixtures/projects/ have their own config files, which the server reads per document and a
    # run of `check fixtures` does not: tests/test_target.py checks them from their own folder.
    files = sorted(p for p in (ROOT / "fixtures").rglob("*.py") if "projects" not in p.relative_to(ROOT).parts)
    expected = {}
    for f in json.loads(run_cli("check", "fixtures", "--format", "json", "--no-cache", "--exit-zero").stdout):
        expected.setdefault((ROOT / f["path"]).resolve().as_uri(), []).append(
            (f["code"], f["line"] - 1, f["column"] - 1, f["end_line"] - 1, f["end_column"] - 1, f["message"]))

    async def go():
        async with session() as client:
            for path in files:
                open_doc(client, path.as_uri(), path.read_text(encoding="utf-8"))
            got = {}
            for path in files:
                params = await publish_for(client, path.as_uri())
                found = [(d.code, d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character,
                          d.message) for d in params.diagnostics]
                if found:
                    got[path.as_uri()] = sorted(found)
            return got

    got = run(go())
    opened = {path.resolve().as_uri() for path in files}  # the notebooks under fixtures/ are not opened here
    assert got == {uri: sorted(found) for uri, found in expected.items() if uri in opened}
    assert sum(len(v) for v in got.values()) > 50


def test_an_edit_rechecks_the_open_documents_that_depend_on_the_edited_file(tmp_path):
    """The seam for the project index: a check records the files its findings name
    (`Finding.related` paths), and a change to one of them re-checks the document."""
    from kerascheck.finding import Finding, Related
    from kerascheck.parse import StatementCache
    from kerascheck.server import Document, KerascheckServer

    layers_py, model_py = tmp_path / "layers.py", tmp_path / "model.py"
    server = KerascheckServer()
    model = Document(model_py.as_uri(), model_py, {model_py.as_uri(): MODEL}, {model_py.as_uri(): 1},
                     cache=StatementCache())
    finding = Finding("KC001", "dropout-before-batchnorm", "m", str(model_py), 7, 5, 7, 32, "warning",
                      related=(Related("layers.Dropout(0.5)", 3, 1, 3, 10, path=str(layers_py)),))
    model.checked = (model.revision, [finding])
    model.depends = frozenset({layers_py})
    server.docs[model.uri] = model

    async def go():
        server.dependents_changed(tmp_path / "other.py")
        assert model.timer is None and model.checked is not None
        server.dependents_changed(layers_py)
        assert model.timer is not None and model.checked is None  # checked again after the debounce
        model.timer.cancel()

    run(go())


def test_a_document_is_checked_again_when_a_module_it_imports_changes(tmp_path):
    """The project index feeds the seam: model.py imports blocks.py; an edit to the open
    blocks.py buffer (not saved) re-checks model.py, which then sees the Dropout at its end."""
    (tmp_path / "pyproject.toml").write_text("")
    blocks = "from tensorflow.keras import layers\n\n\ndef block(x):\n    return layers.Dense(4)(x)\n"
    model = ("import tensorflow as tf\nfrom blocks import block\n\n"
             "x = tf.keras.layers.BatchNormalization()(block(tf.keras.Input((8,))))\n")
    (tmp_path / "blocks.py").write_text(blocks)
    (tmp_path / "model.py").write_text(model)
    blocks_uri, model_uri = (tmp_path / "blocks.py").as_uri(), (tmp_path / "model.py").as_uri()

    async def go():
        async with session(root=tmp_path) as client:
            open_doc(client, model_uri, model)
            assert (await publish_for(client, model_uri)).diagnostics == []
            open_doc(client, blocks_uri, blocks)
            await publish_for(client, blocks_uri)
            seen = len(client.published)
            client.text_document_did_change(lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(uri=blocks_uri, version=2),
                [lsp.TextDocumentContentChangePartial(range=lsp.Range(lsp.Position(4, 11), lsp.Position(4, 26)),
                                                      text="layers.Dropout(0.5)")]))
            [diag] = (await publish_for(client, model_uri, seen)).diagnostics
            assert diag.code == "KC001" and "line 5 of blocks.py" in diag.message
            [related] = diag.related_information
            assert related.location.uri == blocks_uri and related.location.range.start.line == 4

    run(go())
