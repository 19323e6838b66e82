"""`kerascheck server`: a Language Server Protocol server over stdio, on pygls.

Editors start it as `kerascheck server` and talk LSP on its stdin/stdout (logs go to stderr).
It checks the unsaved buffer with `engine.check_text`, the same in-memory check as
`kerascheck check`, and never imports TensorFlow (confirm mode is not offered here).

- Diagnostics on open, on change (debounced, DEBOUNCE seconds after the last edit) and on
  save; cleared on close. Each has its range, LSP severity, code, `codeDescription` (a
  file: link to the rule's module, whose docstring is its documentation), source
  `kerascheck` and related locations.
- Settings as the CLI finds them: the `pyproject.toml` / `kerascheck.toml` above the
  document (`config.resolve`), reloaded when a config file changes
  (`workspace/didChangeWatchedFiles`, or its modification time); `initializationOptions`
  `{"select": [...], "ignore": [...]}` override select/ignore like `--select`/`--ignore`.
- Code actions: a rule's fix (safe fixes as `quickfix`, unsafe ones labelled), "Disable
  KCnnn for this line" (adds or extends `# noqa: KCnnn`), and `source.fixAll.kerascheck`
  (every safe fix, re-checked until nothing more applies).
- Hover on a diagnostic shows the rule's documentation.
- Notebooks through LSP 3.17 notebook sync: the code cells are checked together, as
  `kerascheck check` checks an `.ipynb`, and each finding is published on the cell that
  holds its line.
- Documents that depend on others: a check records the files its findings name
  (`Finding.related` paths; the project index adds imports), and a change to one of
  those files, open or on disk, re-checks the documents that depend on it.

Text synchronisation is done here rather than by pygls's workspace: lines are split where
LSP splits them (\\n, \\r\\n, \\r; `str.splitlines` also splits at \\f and \\u2028) and
columns are converted in the position encoding agreed with the client.
"""

from __future__ import annotations

import asyncio
import bisect
import inspect
import io
import json
import logging
import os
import sys
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import from_fs_path, to_fs_path

from kerascheck import __version__
from kerascheck.finding import Finding
from kerascheck.lines import NOQA, split_lines

log = logging.getLogger("kerascheck.server")

DEBOUNCE = 0.15  # seconds after the last edit before a changed buffer is checked
FIX_ALL = "source.fixAll.kerascheck"
FIX_ROUNDS = 10  # `source.fixAll`: apply, check again, until nothing more applies
SEVERITY = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning,
            "info": lsp.DiagnosticSeverity.Information}
CONFIG_NAMES = frozenset({".kerascheck.toml", "kerascheck.toml", "pyproject.toml"})
WATCHED = ("**/pyproject.toml", "**/kerascheck.toml", "**/.kerascheck.toml", "**/*.py")


class UnknownDocument(JsonRpcException):
    """A request about a document the client never opened: an error response."""

    CODE = lsp.LSPErrorCodes.RequestFailed.value


class Problem(Exception):
    """The document cannot be checked as the CLI would (a broken config): one diagnostic."""


# ------------------------------------------------------------------ documents


@dataclass
class Document:
    """An open text document, or an open notebook with its cells' texts."""

    uri: str
    path: Path | None  # the file it is (per-file ignores, config lookup); None if not a file
    texts: dict[str, str]  # uri -> text: the document's own, or each synced code cell's
    versions: dict[str, int | None]
    cells: list[tuple[str, int]] | None = None  # notebooks: (cell uri, lsp.NotebookCellKind)
    revision: int = 0  # bumped by every edit
    cache: Any = None  # parse.StatementCache: only the edited statements are parsed again
    checked: tuple[int, list[Finding]] | None = None  # (revision, findings)
    timer: asyncio.TimerHandle | None = None
    depends: frozenset[Path] = frozenset()
    _cells_map: tuple | None = field(default=None, repr=False)  # (revision, notebook.Cells)

    @property
    def notebook(self) -> bool:
        return self.cells is not None

    def targets(self) -> list[str]:
        """The URIs diagnostics are published to."""
        if self.cells is None:
            return [self.uri]
        return [uri for uri, kind in self.cells if kind == lsp.NotebookCellKind.Code and uri in self.texts]

    def source(self, texts: dict[str, str] | None = None) -> str:
        """What `check_text` reads: the text, or a notebook's JSON built from its cells."""
        texts = self.texts if texts is None else texts
        if self.cells is None:
            return texts[self.uri]
        cells = []
        for uri, kind in self.cells:
            if kind == lsp.NotebookCellKind.Code and uri in texts:
                cells.append({"cell_type": "code", "source": texts[uri], "metadata": {}, "outputs": [],
                              "execution_count": None})
            else:  # markdown, or a cell of another language: not checked, but counted
                cells.append({"cell_type": "markdown" if kind == lsp.NotebookCellKind.Markup else "raw",
                              "source": "", "metadata": {}})
        return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})

    def check_path(self) -> str:
        if self.cells is None:
            return str(self.path) if self.path is not None else "<stdin>"
        if self.path is not None and self.path.suffix == ".ipynb":
            return str(self.path)
        name = (self.path.name if self.path is not None else "") or "notebook"
        return f"{name}.ipynb"  # what makes check_text read it as a notebook

    def cell_uri(self, number: int | None) -> str | None:
        """The URI of the notebook cell `number` (1-based among all cells)."""
        if self.cells is None:
            return self.uri
        if number is not None and 1 <= number <= len(self.cells):
            uri = self.cells[number - 1][0]
            if uri in self.texts:
                return uri
        return None

    def cells_map(self):
        """notebook.Cells for the current texts: joined-source lines -> cells."""
        if self._cells_map is None or self._cells_map[0] != self.revision:
            from kerascheck import notebook

            _, cells = notebook.to_source(self.source().encode("utf-8", "surrogatepass"))
            self._cells_map = (self.revision, cells)
        return self._cells_map[1]

    def joined(self, line: int) -> tuple[str | None, int]:
        """A joined-source line of a notebook -> (cell uri, line in the cell)."""
        if self.cells is None:
            return self.uri, line
        from kerascheck import notebook

        number, local, _ = notebook.locate(self.cells_map(), line)
        return self.cell_uri(number), local


# ------------------------------------------------------------------ positions


def _units(codec, text: str) -> int:
    return len(text) if text.isascii() else codec.client_num_units(text)


def _chars(codec, line: str, units: int) -> int:
    """Client units into `line` -> characters (clamped to the line, as LSP says)."""
    if units <= 0:
        return 0
    if line.isascii():
        return min(units, len(line))
    count = 0
    for index, char in enumerate(line):
        if count >= units:
            return index
        count += codec.impl.code_units_for_char(char)
    return len(line)


def _body(line: str) -> str:
    return line.rstrip("\r\n")


def offset(text: str, position: lsp.Position, codec) -> int:
    """An LSP position -> an index into `text`."""
    lines = split_lines(text, keepends=True)
    if position.line >= len(lines):
        return len(text)
    start = sum(len(line) for line in lines[: position.line])
    return start + _chars(codec, _body(lines[position.line]), position.character)


def position(lines: list[str], line: int, column: int, codec) -> lsp.Position:
    """1-based line and character column (kerascheck's) -> an LSP position."""
    if line < 1:
        return lsp.Position(0, 0)
    if line > len(lines):
        return lsp.Position(len(lines), 0) if lines else lsp.Position(0, 0)
    body = lines[line - 1]
    return lsp.Position(line - 1, _units(codec, body[: max(0, column - 1)]))


def apply_change(text: str, change, codec) -> str:
    if not isinstance(change, lsp.TextDocumentContentChangePartial):
        return change.text
    start = offset(text, change.range.start, codec)
    end = offset(text, change.range.end, codec)
    start, end = min(start, end), max(start, end)
    return text[:start] + change.text + text[end:]


def _overlaps(a: lsp.Range, b: lsp.Range) -> bool:
    def key(p: lsp.Position) -> tuple[int, int]:
        return p.line, p.character

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


# ------------------------------------------------------------------ edits


def noqa_edit(text: str, line: int, code: str) -> tuple[int, int, str] | None:
    """The edit that makes `# noqa` on `line` silence `code`: (start column, end column,
    new text), 0-based characters on that line; None when the line cannot take a comment
    (it ends inside a string or with a backslash) or a bare `# noqa` is already there."""
    lines = split_lines(text)
    if not 1 <= line <= len(lines):
        return None
    comment = None
    ends = False
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.start[0] > line:
                break
            if tok.start[0] == line and tok.type == tokenize.COMMENT:
                comment = tok
            elif tok.start[0] == line and tok.type in (tokenize.NEWLINE, tokenize.NL):
                ends = True
    except (tokenize.TokenError, SyntaxError):
        return None
    body = lines[line - 1]
    if comment is not None:
        match = NOQA.search(comment.string)
        if match is not None:
            if match.group("codes") is None:
                return None  # a bare noqa comment silences every code already
            at = comment.start[1] + match.end("codes")
            return at, at, f", {code}"
    elif not ends:
        return None
    stripped = len(body.rstrip())
    return stripped, len(body), f"  # noqa: {code}"


def apply_edits(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Non-overlapping (start offset, end offset, content) edits, applied to `text`."""
    for start, end, content in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + content + text[end:]
    return text


def _line_offsets(text: str) -> list[int]:
    starts = [0]
    for line in split_lines(text, keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def minimal_edit(old: str, new: str) -> tuple[int, int, str]:
    """One replacement (start, end offsets in `old`, content) turning `old` into `new`."""
    start = 0
    limit = min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end = 0
    while end < limit - start and old[len(old) - 1 - end] == new[len(new) - 1 - end]:
        end += 1
    return start, len(old) - end, new[start : len(new) - end]


# ------------------------------------------------------------------ settings


class Settings:
    """Plans per configuration file, found from each document's path as the CLI finds them."""

    def __init__(self, select: tuple[str, ...] | None = None, ignore: tuple[str, ...] | None = None) -> None:
        self.overrides = {"select": select, "ignore": ignore}
        self._found: dict[Path, Path | None] = {}  # folder -> its config file
        self._plans: dict[Path | None, tuple[Any, Any]] = {}  # config file -> (stat, Plan | Problem)

    def reset(self) -> None:
        self._found.clear()
        self._plans.clear()

    def plan(self, path: Path | None, root: Path | None):
        from kerascheck import config

        start = path.parent if path is not None else (root or Path.cwd())
        if start not in self._found:
            try:
                self._found[start] = config.find_config(start)
            except OSError:
                self._found[start] = None
        found = self._found[start]
        stamp = _stamp(found)
        cached = self._plans.get(found)
        if cached is None or cached[0] != stamp:
            cached = self._plans[found] = (stamp, self._make(start, found))
        if isinstance(cached[1], Problem):
            raise cached[1]
        return cached[1]

    def _make(self, start: Path, found: Path | None):
        """What `kerascheck check` does (cli._check) with the same config and `--select`/`--ignore`."""
        from kerascheck import config, engine, registry

        try:
            for key in ("select", "ignore"):
                codes = self.overrides[key]
                if codes is not None:
                    try:
                        registry.validate(codes)
                    except registry.RegistryError as exc:
                        raise registry.RegistryError(f"{exc} (in initializationOptions.{key})") from None
            settings = config.resolve((str(start),), str(found) if found is not None else None, self.overrides,
                                      registry.option_defaults(), registry.validate)
            enabled = registry.enabled(settings.select, settings.ignore)
            return engine.Plan.make(settings, registry.load(), enabled)
        except (config.ConfigError, registry.RegistryError) as exc:
            return Problem(f"kerascheck cannot use its configuration: {exc}")


def _stamp(path: Path | None):
    if path is None:
        return None
    try:
        info = path.stat()
    except OSError:
        return "gone"
    return info.st_mtime_ns, info.st_size


def _codes(value: Any, key: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Problem(f"initializationOptions.{key} must be a list of rule codes, e.g. [\"KC001\"]")
    return tuple(v.strip() for v in value if v.strip())


# ------------------------------------------------------------------ the server


class Protocol(LanguageServerProtocol):
    """pygls's protocol with kerascheck's own document store, and an error response to a
    request whose parameters cannot be read (pygls only logs it)."""

    _server: KerascheckServer

    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "method" in data and isinstance(data.get("id"), (int, str)):
                self._send_response(data["id"], error=exc.to_response_error())
            raise

    @lsp_method(lsp.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: lsp.DidOpenTextDocumentParams) -> None:
        self._server.did_open(params)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: lsp.DidChangeTextDocumentParams) -> None:
        self._server.did_change(params.text_document, params.content_changes)

    @lsp_method(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: lsp.DidCloseTextDocumentParams) -> None:
        self._server.did_close(params.text_document.uri)

    @lsp_method(lsp.NOTEBOOK_DOCUMENT_DID_OPEN)
    def lsp_notebook_document__did_open(self, params: lsp.DidOpenNotebookDocumentParams) -> None:
        self._server.notebook_open(params)

    @lsp_method(lsp.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def lsp_notebook_document__did_change(self, params: lsp.DidChangeNotebookDocumentParams) -> None:
        self._server.notebook_change(params)

    @lsp_method(lsp.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def lsp_notebook_document__did_close(self, params: lsp.DidCloseNotebookDocumentParams) -> None:
        self._server.did_close(params.notebook_document.uri)


class KerascheckServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "kerascheck", __version__, protocol_cls=Protocol,
            text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
            notebook_document_sync=lsp.NotebookDocumentSyncOptions(
                notebook_selector=[lsp.NotebookDocumentFilterWithCells(
                    notebook="*", cells=[lsp.NotebookCellLanguage(language="python")])],
                save=True))
        self.docs: dict[str, Document] = {}
        self.owner: dict[str, str] = {}  # notebook cell uri -> notebook uri
        self.settings = Settings()
        self.settings_problem: str | None = None  # bad initializationOptions
        self.shutdown_requested = False
        self.indexes: dict[Path, Any] = {}  # project root -> project.Index (open buffers win over the disk)

    # -- helpers ----------------------------------------------------------------------------

    @property
    def codec(self):
        return self.workspace.position_codec

    def root(self) -> Path | None:
        path = self.workspace.root_path
        return Path(path) if path else None

    def document(self, uri: str) -> Document:
        """The open document (or notebook) a request names; an error response if none."""
        doc = self.docs.get(uri) or self.docs.get(self.owner.get(uri, ""))
        if doc is None:
            raise UnknownDocument(f"kerascheck: no open document {uri}")
        return doc

    def report_server_error(self, error: Exception, source) -> None:
        """Logged, never shown: a request that failed got its error response, and a message
        that could not be read was skipped."""
        from pygls.exceptions import FeatureRequestError

        level = logging.WARNING if source is FeatureRequestError else logging.ERROR
        log.log(level, "%s: %s", getattr(source, "__name__", source), error or type(error).__name__)

    # -- checking ---------------------------------------------------------------------------

    def findings(self, doc: Document) -> list[Finding]:
        """The findings for the document as it is now (checked again only if it changed)."""
        if doc.checked is None or doc.checked[0] != doc.revision:
            doc.checked = (doc.revision, self.check(doc, doc.source(), doc.cache))
            related = {self.related_path(r.path) for f in doc.checked[1] for r in f.related if r.path}
            index = self.index_for(doc)
            imported = index.closure(doc.path) if index is not None and doc.path is not None else set()
            doc.depends = frozenset(related | imported)
        return doc.checked[1]

    def index_for(self, doc: Document):
        """The project index of a document's project, shared by every open document in it."""
        if doc.path is None or doc.notebook:
            return None
        from kerascheck.engine import index_words
        from kerascheck.project import Index, project_root

        root = project_root(doc.path.parent) or doc.path.parent
        index = self.indexes.get(root)
        if index is None:
            index = self.indexes[root] = Index(root, (), index_words(), read=self.read_file)
        return index

    def read_file(self, path: Path) -> bytes | None:
        """What the index reads for a module: its open buffer, else the disk."""
        for doc in self.docs.values():
            if doc.path == path and not doc.notebook:
                return doc.source().encode("utf-8", "surrogatepass")
        try:
            return path.read_bytes()
        except OSError:
            return None

    def forget(self, path: Path | None) -> None:
        """A module changed (edited, saved, changed on disk, closed): the indexes read it again."""
        if path is not None:
            for index in self.indexes.values():
                index.forget(path)

    def related_path(self, path: str) -> Path:
        """A path a finding names (relative ones from the workspace root, as the CLI shows them)."""
        return Path(path) if os.path.isabs(path) else (self.root() or Path.cwd()) / path

    def check(self, doc: Document, source: str, cache) -> list[Finding]:
        from kerascheck import engine

        if self.settings_problem is not None:
            raise Problem(self.settings_problem)
        plan = self.settings.plan(doc.path, self.root())
        index = self.index_for(doc)
        return engine.check_text(source, doc.check_path(), plan=plan, cache=cache, index=index)

    def publish(self, doc: Document) -> None:
        if doc.timer is not None:
            doc.timer.cancel()
            doc.timer = None
        if self.docs.get(doc.uri) is not doc:
            return  # closed meanwhile
        per_uri: dict[str, list[lsp.Diagnostic]] = {uri: [] for uri in doc.targets()}
        try:
            for finding in self.findings(doc):
                placed = self.diagnostic(doc, finding)
                if placed is not None:
                    per_uri.setdefault(placed[0], []).append(placed[1])
        except Problem as exc:
            self.problem(doc, per_uri, str(exc))
        except Exception as exc:  # a bug in a rule or the engine must not end the session
            log.exception("checking %s failed", doc.uri)
            self.problem(doc, per_uri, f"kerascheck: internal error: {type(exc).__name__}: {exc}")
        for uri, diagnostics in per_uri.items():
            if uri in doc.texts:
                self.text_document_publish_diagnostics(
                    lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=doc.versions.get(uri)))

    def problem(self, doc: Document, per_uri: dict, message: str) -> None:
        """One diagnostic on the first line that says why the document was not checked."""
        targets = doc.targets()
        if not targets:
            return
        for uri in per_uri:
            per_uri[uri] = []
        first = split_lines(doc.texts[targets[0]])[:1] or [""]
        per_uri[targets[0]] = [lsp.Diagnostic(
            range=lsp.Range(lsp.Position(0, 0), lsp.Position(0, _units(self.codec, first[0]))),
            message=message, severity=lsp.DiagnosticSeverity.Error, source="kerascheck")]

    def schedule(self, doc: Document, delay: float = DEBOUNCE) -> None:
        if doc.timer is not None:
            doc.timer.cancel()
        doc.timer = asyncio.get_running_loop().call_later(delay, self.publish, doc)

    def dependents_changed(self, path: Path | None, *, exclude: Document | None = None) -> None:
        """Re-check the open documents whose last check read `path`."""
        if path is None:
            return
        for other in list(self.docs.values()):
            if other is not exclude and path in other.depends:
                other.checked = None
                self.schedule(other)

    # -- findings as LSP values -------------------------------------------------------------

    def place(self, doc: Document, line: int, column: int, end_line: int, end_column: int,
              cell: int | None = None, joined: bool = False) -> tuple[str, lsp.Range] | None:
        """A finding's coordinates -> (uri, range). Notebook lines are a cell's own (with
        `cell`) or the joined source's (`joined`)."""
        if doc.notebook:
            if joined:
                uri, line = doc.joined(line)
                end_uri, end_line = doc.joined(end_line)
                if end_uri != uri:
                    end_line, end_column = line, 10**9
            else:
                uri = doc.cell_uri(cell) or (doc.targets() or [None])[0]
                if cell is None:  # before every cell: shown on the first one
                    line = end_line = 1
        else:
            uri = doc.uri
        if uri is None:
            return None
        lines = split_lines(doc.texts[uri])
        start = position(lines, line, column, self.codec)
        end = position(lines, end_line, end_column, self.codec)
        if (end.line, end.character) <= (start.line, start.character):
            # A point (a syntax error): the rest of its line, so every editor shows it.
            rest = lines[start.line] if start.line < len(lines) else ""
            end = lsp.Position(start.line, max(start.character, _units(self.codec, rest)))
        return uri, lsp.Range(start, end)

    def diagnostic(self, doc: Document, f: Finding) -> tuple[str, lsp.Diagnostic] | None:
        from kerascheck import registry

        placed = self.place(doc, f.line, f.column, f.end_line, f.end_column, cell=f.cell)
        if placed is None:
            return None
        uri, where = placed
        related = []
        for r in f.related:
            if r.path is not None and self.related_path(r.path) != doc.path:
                # Another file, which may not be open: its columns are taken as code points.
                other = lsp.Range(lsp.Position(r.line - 1, r.column - 1), lsp.Position(r.end_line - 1, r.end_column - 1))
                location = lsp.Location(from_fs_path(str(self.related_path(r.path))), other)
                related.append(lsp.DiagnosticRelatedInformation(location, r.message))
                continue
            spot = self.place(doc, r.line, r.column, r.end_line, r.end_column, cell=r.cell,
                              joined=r.cell is None) if doc.notebook else \
                self.place(doc, r.line, r.column, r.end_line, r.end_column)
            if spot is not None:
                related.append(lsp.DiagnosticRelatedInformation(lsp.Location(*spot), r.message))
        try:
            href = docs_uri(registry.by_code(f.code))
        except registry.RegistryError:
            href = None
        return uri, lsp.Diagnostic(
            range=where, message=f.message, severity=SEVERITY.get(f.severity, lsp.DiagnosticSeverity.Warning),
            code=f.code, code_description=lsp.CodeDescription(href=href) if href else None, source="kerascheck",
            related_information=related or None)

    def fix_edits(self, doc: Document, fix: dict) -> dict[str, list[tuple[int, int, str]]] | None:
        """A finding's fix as (start, end, content) offsets per document text; None if an edit
        cannot be placed (it spans notebook cells)."""
        per_uri: dict[str, list[tuple[int, int, str]]] = {}
        offsets: dict[str, list[int]] = {}
        for edit in fix.get("edits", ()):
            uri, line = doc.joined(edit["line"])
            end_uri, end_line = doc.joined(edit["end_line"])
            if uri is None or end_uri != uri:
                return None
            starts = offsets.setdefault(uri, _line_offsets(doc.texts[uri]))
            if not (1 <= line <= end_line <= len(starts)):
                return None
            size = len(doc.texts[uri])
            start = min(size, starts[line - 1] + edit["column"] - 1)
            end = min(size, starts[end_line - 1] + edit["end_column"] - 1)
            per_uri.setdefault(uri, []).append((start, end, edit["content"]))
        return per_uri

    def workspace_edit(self, doc: Document, per_uri: dict[str, list[tuple[int, int, str]]]) -> lsp.WorkspaceEdit:
        edits: dict[str, list[lsp.TextEdit]] = {}
        for uri, changes in per_uri.items():
            text = doc.texts[uri]
            lines = split_lines(text, keepends=True)
            starts = _line_offsets(text)
            out = []
            for start, end, content in sorted(changes):
                out.append(lsp.TextEdit(lsp.Range(self._at(lines, starts, start), self._at(lines, starts, end)),
                                        content))
            edits[uri] = out
        caps = self.client_capabilities.workspace
        if caps and caps.workspace_edit and caps.workspace_edit.document_changes:
            return lsp.WorkspaceEdit(document_changes=[
                lsp.TextDocumentEdit(lsp.OptionalVersionedTextDocumentIdentifier(uri, doc.versions.get(uri)), out)
                for uri, out in edits.items()])
        return lsp.WorkspaceEdit(changes=edits)

    def _at(self, lines: list[str], starts: list[int], index: int) -> lsp.Position:
        line = max(0, bisect.bisect_right(starts, index) - 1)
        if line >= len(lines):
            return lsp.Position(len(lines), 0)
        return lsp.Position(line, _units(self.codec, lines[line][: index - starts[line]]))

    # -- text documents ---------------------------------------------------------------------

    def did_open(self, params: lsp.DidOpenTextDocumentParams) -> None:
        from kerascheck.parse import StatementCache

        item = params.text_document
        path = _path(item.uri)
        language = (item.language_id or "").lower()
        if not language.startswith("python") and (path is None or path.suffix not in (".py", ".pyi")):
            log.info("not a Python document, not checked: %s (%s)", item.uri, item.language_id)
            return
        doc = Document(item.uri, path, {item.uri: item.text}, {item.uri: item.version}, cache=StatementCache())
        self.docs[item.uri] = doc
        self.forget(path)  # the buffer, not the disk, is the module from now on
        self.publish(doc)
        self.dependents_changed(path, exclude=doc)

    def did_change(self, ident: lsp.VersionedTextDocumentIdentifier, changes) -> None:
        uri = ident.uri
        doc = self.docs.get(uri) or self.docs.get(self.owner.get(uri, ""))
        if doc is None or uri not in doc.texts:
            log.warning("didChange for a document that is not open: %s", uri)
            return
        text = doc.texts[uri]
        for change in changes:
            text = apply_change(text, change, self.codec)
        doc.texts[uri] = text
        doc.versions[uri] = ident.version
        doc.revision += 1
        self.forget(doc.path)
        self.schedule(doc)
        self.dependents_changed(doc.path, exclude=doc)

    def did_close(self, uri: str) -> None:
        doc = self.docs.pop(uri, None)
        if doc is None:
            log.warning("didClose for a document that is not open: %s", uri)
            return
        if doc.timer is not None:
            doc.timer.cancel()
        self.forget(doc.path)  # its buffer no longer stands for the file
        for target in list(doc.texts):
            self.owner.pop(target, None)
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=target, diagnostics=[]))

    def did_save(self, uri: str) -> None:
        doc = self.docs.get(uri)
        if doc is None:
            log.warning("didSave for a document that is not open: %s", uri)
            return
        self.publish(doc)

    # -- notebooks --------------------------------------------------------------------------

    def notebook_open(self, params: lsp.DidOpenNotebookDocumentParams) -> None:
        from kerascheck.parse import StatementCache

        nb = params.notebook_document
        texts = {item.uri: item.text for item in params.cell_text_documents}
        versions = {item.uri: item.version for item in params.cell_text_documents}
        doc = Document(nb.uri, _path(nb.uri), texts, versions,
                       cells=[(cell.document, cell.kind) for cell in nb.cells], cache=StatementCache())
        self.docs[nb.uri] = doc
        for uri in texts:
            self.owner[uri] = nb.uri
        self.publish(doc)

    def notebook_change(self, params: lsp.DidChangeNotebookDocumentParams) -> None:
        doc = self.docs.get(params.notebook_document.uri)
        if doc is None or doc.cells is None:
            log.warning("didChange for a notebook that is not open: %s", params.notebook_document.uri)
            return
        cells = params.change.cells
        if cells is None:
            return  # metadata only
        closed: list[str] = []
        if cells.structure is not None:
            array = cells.structure.array
            new = [(cell.document, cell.kind) for cell in array.cells or ()]
            doc.cells[array.start : array.start + array.delete_count] = new
            for item in cells.structure.did_open or ():
                doc.texts[item.uri] = item.text
                doc.versions[item.uri] = item.version
                self.owner[item.uri] = doc.uri
            for ident in cells.structure.did_close or ():
                doc.texts.pop(ident.uri, None)
                doc.versions.pop(ident.uri, None)
                self.owner.pop(ident.uri, None)
                closed.append(ident.uri)
        for data in cells.data or ():  # a cell's kind can change (code <-> markdown)
            for index, (uri, _) in enumerate(doc.cells):
                if uri == data.document:
                    doc.cells[index] = (uri, data.kind)
        for content in cells.text_content or ():
            uri = content.document.uri
            if uri not in doc.texts:
                log.warning("notebook change for a cell that is not open: %s", uri)
                continue
            text = doc.texts[uri]
            for change in content.changes:
                text = apply_change(text, change, self.codec)
            doc.texts[uri] = text
            doc.versions[uri] = content.document.version
        doc.revision += 1
        for uri in closed:
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
        self.schedule(doc)

    # -- requests ---------------------------------------------------------------------------

    def code_actions(self, params: lsp.CodeActionParams) -> list[lsp.CodeAction] | None:
        uri = params.text_document.uri
        doc = self.document(uri)
        only = params.context.only
        wanted = (lambda kind: True) if not only else \
            (lambda kind: any(kind == k or kind.startswith(f"{k}.") for k in only))
        try:
            findings = self.findings(doc)
        except Problem:
            return None
        actions: list[lsp.CodeAction] = []
        if wanted(lsp.CodeActionKind.QuickFix):
            for f in findings:
                placed = self.diagnostic(doc, f)
                if placed is None or placed[0] != uri or not _overlaps(placed[1].range, params.range):
                    continue
                diagnostic = placed[1]
                fix = f.fix
                if fix is not None and fix.get("applicability") in ("safe", "unsafe"):
                    per_uri = self.fix_edits(doc, fix)
                    if per_uri:
                        safe = fix["applicability"] == "safe"
                        title = f"{f.code}: {fix.get('message') or 'apply the fix'}" + ("" if safe else " (unsafe fix)")
                        actions.append(lsp.CodeAction(title=title, kind=lsp.CodeActionKind.QuickFix,
                                                      diagnostics=[diagnostic], is_preferred=safe,
                                                      edit=self.workspace_edit(doc, per_uri)))
                if f.code != "KC000":  # a file that cannot be parsed has no line to silence
                    edit = noqa_edit(doc.texts[uri], f.line, f.code)
                    if edit is not None:
                        starts = _line_offsets(doc.texts[uri])
                        begin = starts[f.line - 1]
                        actions.append(lsp.CodeAction(
                            title=f"Disable {f.code} for this line", kind=lsp.CodeActionKind.QuickFix,
                            diagnostics=[diagnostic],
                            edit=self.workspace_edit(doc, {uri: [(begin + edit[0], begin + edit[1], edit[2])]})))
        if wanted(FIX_ALL):
            fixed = self.fix_all(doc)
            if fixed is not None:
                actions.append(lsp.CodeAction(title="kerascheck: apply every safe fix", kind=FIX_ALL,
                                              edit=self.workspace_edit(doc, fixed)))
        return actions or None

    def fix_all(self, doc: Document) -> dict[str, list[tuple[int, int, str]]] | None:
        """Every safe fix, applied round after round (each round re-checks the result) until
        none applies; one minimal edit per changed text."""
        from kerascheck.parse import StatementCache

        texts = dict(doc.texts)
        findings = self.findings(doc)
        cache = StatementCache()
        for _ in range(FIX_ROUNDS):
            taken: dict[str, list[tuple[int, int, str]]] = {}
            current = Document(doc.uri, doc.path, texts, doc.versions, doc.cells)
            for f in findings:
                if not f.fix or f.fix.get("applicability") != "safe":
                    continue
                per_uri = self.fix_edits(current, f.fix)
                if not per_uri:
                    continue
                clash = any(s < e2 and s2 < e or (s == s2 and e == e2)
                            for uri, edits in per_uri.items() for s, e, _ in edits
                            for s2, e2, _ in taken.get(uri, ()))
                if not clash:
                    for uri, edits in per_uri.items():
                        taken.setdefault(uri, []).extend(edits)
            if not taken:
                break
            for uri, edits in taken.items():
                texts[uri] = apply_edits(texts[uri], edits)
            try:
                findings = self.check(doc, doc.source(texts), cache)
            except Problem:
                break
        changed = {uri: [minimal_edit(doc.texts[uri], text)] for uri, text in texts.items() if text != doc.texts[uri]}
        return changed or None

    def hover(self, params: lsp.HoverParams) -> lsp.Hover | None:
        from kerascheck import registry

        uri = params.text_document.uri
        doc = self.document(uri)
        try:
            findings = self.findings(doc)
        except Problem:
            return None
        at = lsp.Range(params.position, params.position)
        parts = []
        spot = None
        for f in findings:
            placed = self.place(doc, f.line, f.column, f.end_line, f.end_column, cell=f.cell)
            if placed is None or placed[0] != uri or not _overlaps(placed[1], at):
                continue
            spot = spot or placed[1]
            try:
                rule = registry.by_code(f.code)
            except registry.RegistryError:
                continue
            parts.append(f"**{rule.code}** `{rule.name}` ({rule.severity})\n\n{f.message}\n\n"
                         f"{inspect.cleandoc(rule.doc)}")
        if not parts:
            return None
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value="\n\n---\n\n".join(parts)),
                         range=spot)

    # -- settings ---------------------------------------------------------------------------

    def initialize(self, params: lsp.InitializeParams) -> None:
        options = params.initialization_options
        if options is None:
            return
        if not isinstance(options, dict):
            self.settings_problem = "kerascheck: initializationOptions must be an object"
            return
        unknown = sorted(set(options) - {"select", "ignore", "logLevel"})
        if unknown:
            log.warning("unknown initializationOptions ignored: %s", ", ".join(unknown))
        level = options.get("logLevel")
        if isinstance(level, str) and level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"):
            logging.getLogger("kerascheck").setLevel(level.upper())
            if level.upper() == "DEBUG":
                logging.getLogger("pygls").setLevel(logging.DEBUG)
        try:
            self.settings = Settings(_codes(options.get("select"), "select"), _codes(options.get("ignore"), "ignore"))
        except Problem as exc:
            self.settings_problem = str(exc)

    def initialized(self) -> None:
        caps = self.client_capabilities.workspace
        watched = caps.did_change_watched_files if caps else None
        # Without it, config changes are still seen through the config file's modification time.
        if watched is not None and watched.dynamic_registration:
            options = lsp.DidChangeWatchedFilesRegistrationOptions(
                watchers=[lsp.FileSystemWatcher(glob_pattern=pattern) for pattern in WATCHED])
            future = self.client_register_capability(lsp.RegistrationParams(registrations=[
                lsp.Registration(id="kerascheck-watched-files", method=lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                 register_options=options)]))
            future.add_done_callback(_log_failure("registering file watchers"))
        # libcst, the model and the rules: imported now rather than at the first didOpen
        import kerascheck.picture  # noqa: F401
        from kerascheck import registry

        registry.load()

    def watched_files_changed(self, params: lsp.DidChangeWatchedFilesParams) -> None:
        paths = [_path(change.uri) for change in params.changes]
        if any(p is not None and p.name in CONFIG_NAMES for p in paths):
            log.info("configuration changed: checking every open document again")
            self.settings.reset()
            for doc in self.docs.values():
                doc.checked = None
                self.publish(doc)
            return
        for path in paths:
            if path is not None and path.suffix == ".py" and not any(d.path == path for d in self.docs.values()):
                self.forget(path)
                self.dependents_changed(path)  # an open document's own buffer wins over the disk


def docs_uri(rule) -> str:
    """Where a rule's documentation lives: its module, whose docstring `kerascheck rule` prints
    (KC000 and KC100 are documented in the registry). A file: URI, so the editor opens it."""
    import kerascheck.registry

    module = rule.module if rule.module is not None else kerascheck.registry
    return Path(module.__file__).resolve().as_uri()


def _path(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return Path(path) if path else None


def _log_failure(what: str):
    def done(future) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.info("%s failed: %s", what, future.exception())

    return done


def make_server() -> KerascheckServer:
    server = KerascheckServer()

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: KerascheckServer, params: lsp.InitializeParams) -> None:
        ls.initialize(params)

    @server.feature(lsp.INITIALIZED)
    def initialized(ls: KerascheckServer, params: lsp.InitializedParams) -> None:
        ls.initialized()

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE, lsp.SaveOptions(include_text=False))
    def did_save(ls: KerascheckServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.did_save(params.text_document.uri)

    @server.feature(lsp.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_save(ls: KerascheckServer, params: lsp.DidSaveNotebookDocumentParams) -> None:
        ls.did_save(params.notebook_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.QuickFix, FIX_ALL], resolve_provider=False))
    def code_action(ls: KerascheckServer, params: lsp.CodeActionParams):
        return ls.code_actions(params)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: KerascheckServer, params: lsp.HoverParams):
        return ls.hover(params)

    @server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched(ls: KerascheckServer, params: lsp.DidChangeWatchedFilesParams) -> None:
        ls.watched_files_changed(params)

    @server.feature(lsp.SHUTDOWN)
    def shutdown(ls: KerascheckServer, params: None) -> None:
        ls.shutdown_requested = True
        for doc in ls.docs.values():
            if doc.timer is not None:
                doc.timer.cancel()

    @server.feature(lsp.EXIT)
    def exit_(ls: KerascheckServer, params: None) -> None:
        # pygls would wait for its stdin reader thread, which waits for the client.
        logging.shutdown()
        os._exit(0 if ls.shutdown_requested else 1)

    return server


def serve() -> int:
    """Run over stdio until `exit` (0 after `shutdown`, 1 without) or the end of stdin."""
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="kerascheck server: %(levelname)s: %(message)s")
    logging.getLogger("pygls").setLevel(logging.CRITICAL)  # its tracebacks repeat what is logged here
    server = make_server()
    server.start_io()
    return 0 if server.shutdown_requested else 1


