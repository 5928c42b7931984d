"""Run diagnostics: a Python file opened or saved is run (run_on_save) and its failure published."""

from __future__ import annotations

import logging
import re

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import PositionCodec

from ..cancel import CancelToken
from ..pipeline.check_job import CheckJob
from ..pipeline.checker import Check
from ..pipeline.lines import line_starts
from ..worker.host import JobFailed
from .actions import diagnostic_json, in_workspace, target_for
from .edits import client_position, moved_span
from .state import ServerState

log = logging.getLogger("code_evolver.lsp")

# "TypeError: ...", "json.decoder.JSONDecodeError: ...": the exception's name, last part.
_EXCEPTION = re.compile(r"(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*):")


def did_change(
    server: LanguageServer, state: ServerState, params: types.DidChangeTextDocumentParams
) -> None:
    """Run diagnostics describe the saved text; once it changes (an applied fix, say) they are
    stale, and the editor would keep showing the old error until the next save."""
    uri = params.text_document.uri
    if state.published.pop(uri, None):
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )


def did_close(state: ServerState, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    state.forget(uri)
    state.published.pop(uri, None)
    state.resolved.pop(uri, None)
    running = state.runs.pop(uri, None)
    if running is not None:
        running.cancel()  # nobody will see its diagnostic; its child is stopped now


async def did_open(
    server: LanguageServer, state: ServerState, params: types.DidOpenTextDocumentParams
) -> None:
    """A workspace file opened with run_on_save on is run once, as a save would: its error is
    there before the first save (Emacs does not even save a buffer with no changes). Files
    outside the workspace (a library opened by "go to definition") and documents that are no
    file (an untitled buffer, a git diff's old side) are not."""
    uri = params.text_document.uri
    path = to_fs_path(uri) if uri.startswith("file:") else None  # not untitled:, git:, ...
    if path is not None and in_workspace(state, path):
        await _run_and_publish(server, state, uri, "run on open")


async def did_save(
    server: LanguageServer, state: ServerState, params: types.DidSaveTextDocumentParams
) -> None:
    """Run a saved Python file and publish its failure as a diagnostic (run_on_save)."""
    await _run_and_publish(server, state, params.text_document.uri, "run on save")


async def _run_and_publish(server: LanguageServer, state: ServerState, uri: str, what: str) -> None:
    """Run the document's text once and publish its failure, unless a newer run of the same
    document started meanwhile (that one is stopped, so its outcome never lands late)."""
    cancel = CancelToken()
    try:
        settings = state.config.settings
        document = server.workspace.text_documents.get(uri)
        if (
            not settings.run_on_save
            or not state.trusted
            or document is None
            or (document.language_id or "") != "python"
        ):
            return
        previous = state.runs.get(uri)
        if previous is not None:
            previous.cancel()
        state.runs[uri] = cancel
        path = to_fs_path(uri) or uri
        saved = document.source
        job = CheckJob(target_for(state, path, "python"), saved)
        async with state.run_slot:
            if cancel.cancelled:
                return
            try:
                result = await state.worker.run(job, lambda step: None, cancel)
            except JobFailed as error:
                if error.failure.cancelled:
                    return
                raise
        assert isinstance(result, Check)
        if cancel.cancelled:
            return
        # The run read the saved text; the user may have typed since. The failure's line is
        # moved onto today's text like any edit, or dropped when that very line changed.
        document = server.workspace.text_documents.get(uri)
        if document is None:
            return
        codec = server.workspace.position_codec
        found = _diagnostic(codec, result, saved, document.source) if result.failures else None
        diagnostics = [found] if found is not None else []
        state.published[uri] = [diagnostic_json(d) for d in diagnostics]
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, diagnostics=diagnostics, version=document.version
            )
        )
    except Exception:  # a notification handler never raises
        log.exception("%s failed", what)
    finally:
        if state.runs.get(uri) is cancel:
            del state.runs[uri]


def _diagnostic(
    codec: PositionCodec, result: Check, saved: str, now: str
) -> types.Diagnostic | None:
    """The run's failure on the line it names in `saved` (the whole line, trailing blanks left
    out), placed on `now`; None when the user changed that line since."""
    line = result.error.line if result.error and result.error.line is not None else 0
    if result.syntax_error and "(line " in result.syntax_error:
        line = int(result.syntax_error.rsplit("(line ", 1)[1].rstrip(")")) - 1
    starts = line_starts(saved)
    line = min(max(line, 0), max(len(starts) - 2, 0))
    span = (starts[line], starts[line + 1]) if line + 1 < len(starts) else (0, 0)
    moved = span if saved == now else moved_span(saved, now, *span)
    if moved is None:
        return None
    width = len(saved[span[0] : span[1]].rstrip())
    return types.Diagnostic(
        range=types.Range(
            start=client_position(codec, now, moved[0]),
            end=client_position(codec, now, moved[0] + width),
        ),
        message=result.summary,
        severity=types.DiagnosticSeverity.Error,
        source="code-evolver",
        code=diagnostic_code(result),
    )


def diagnostic_code(result: Check) -> str:
    """The exception's name ("NameError"), or what kind of failure it was. Some clients (ALE)
    send a diagnostic back with a codeAction request only when it has a code."""
    found = _EXCEPTION.match(result.summary)
    if found:
        return found.group(1)
    if result.run is not None and result.run.timed_out:
        return "Timeout"
    if result.tests is not None and not result.tests.ok:
        return "TestsFailed"
    return "RunFailed"
