"""The pygls behaviour each patch in lsp/pygls_patches.py stands on, checked against pygls itself.

Each test fails when pygls changes the thing a patch works around or relies on: then either the
patch can go (pygls fixed it) or it must be rewritten (the internal moved).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import re
import threading
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from code_evolver.lsp.pygls_patches import PYGLS_TESTED, PatchedProtocol

ROOT = Path(__file__).resolve().parent.parent


class _Sink:
    """A protocol writer that keeps what was written."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        body = data.split(b"\r\n\r\n", 1)[1]
        self.messages.append(json.loads(body))

    def close(self) -> None:
        pass


def _protocol(cls: type[LanguageServerProtocol]) -> tuple[LanguageServerProtocol, _Sink]:
    server = LanguageServer("patch-check", "0", protocol_cls=cls)
    sink = _Sink()
    server.protocol.set_writer(sink)
    return server.protocol, sink


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_pygls_is_a_release_the_patches_were_written_for() -> None:
    low, high = re.fullmatch(r">=([\d.]+),<([\d.]+)", PYGLS_TESTED).groups()  # type: ignore[union-attr]
    installed = _version(version("pygls"))
    assert _version(low) <= installed < _version(high), (installed, PYGLS_TESTED)
    project = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"pygls{PYGLS_TESTED}"' in project, "pin pygls in pyproject.toml to PYGLS_TESTED"


def test_pygls_shutdown_still_walks_the_live_dict_of_pending_requests() -> None:
    """pygls#606: cancelling a pending request runs callbacks that remove it from the dict
    pygls walks. Our lsp_shutdown walks a copy; once pygls does too, drop the override."""

    def pending(protocol: LanguageServerProtocol) -> None:
        for number in (1, 2):
            future: concurrent.futures.Future[Any] = concurrent.futures.Future()
            future.add_done_callback(
                lambda _f, n=number: protocol._request_futures.pop(n, None)  # type: ignore[misc]
            )
            protocol._request_futures[number] = future

    plain, _ = _protocol(LanguageServerProtocol)
    pending(plain)
    with pytest.raises(RuntimeError, match="changed size during iteration"):
        list(LanguageServerProtocol.lsp_shutdown(plain))
    patched, _ = _protocol(PatchedProtocol)
    pending(patched)
    list(PatchedProtocol.lsp_shutdown(patched))
    assert patched._request_futures == {}


def test_execute_handler_keeps_the_command_task_under_the_request_id() -> None:
    """The command's own task is stored in `_request_futures` under the request's id, apart
    from the outer future that $/cancelRequest cancels: PatchedProtocol ties the two."""
    parameters = list(inspect.signature(LanguageServerProtocol._execute_handler).parameters)
    assert parameters == ["self", "msg_id", "handler", "callback", "args", "kwargs"]
    source = inspect.getsource(LanguageServerProtocol._execute_handler)
    assert "_request_futures[msg_id]" in source


def test_execute_command_still_reads_the_handler_signature_on_every_call() -> None:
    """pygls inspects the command's signature per call; our override skips that. When pygls
    stops doing it, the override can go."""
    source = inspect.getsource(LanguageServerProtocol.lsp_workspace__execute_command)
    assert "_prepare_command_arguments(handler" in source
    assert PatchedProtocol.lsp_workspace__execute_command is not (
        LanguageServerProtocol.lsp_workspace__execute_command
    )


def test_send_response_has_the_signature_the_flush_override_wraps() -> None:
    parameters = list(inspect.signature(LanguageServerProtocol._send_response).parameters)
    assert parameters == ["self", "msg_id", "result", "error"]


def test_pygls_still_drops_a_request_whose_params_do_not_structure() -> None:
    """A codeAction with a negative position: pygls raises and answers nothing (the editor
    would wait forever); the patched protocol answers it with the error."""
    request = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": types.TEXT_DOCUMENT_CODE_ACTION,
        "params": {
            "textDocument": {"uri": "file:///x.py"},
            "range": {
                "start": {"line": -1, "character": 0},
                "end": {"line": 0, "character": 0},
            },
            "context": {"diagnostics": []},
        },
    }
    plain, plain_sink = _protocol(LanguageServerProtocol)
    with pytest.raises(Exception):  # noqa: B017 - whichever JsonRpcException pygls picks
        plain.structure_message(request)
    assert plain_sink.messages == []
    patched, patched_sink = _protocol(PatchedProtocol)
    with pytest.raises(Exception):  # noqa: B017
        patched.structure_message(request)
    assert [m.get("id") for m in patched_sink.messages] == [7]
    assert "error" in patched_sink.messages[0]


def test_shutdown_ends_the_loop_through_stop_event() -> None:
    """serve_stdio hands pygls' shutdown() an event through `_stop_event`."""
    server = LanguageServer("patch-check", "0")
    assert hasattr(server, "_stop_event")
    stop = threading.Event()
    server._stop_event = stop
    server.shutdown()
    assert stop.is_set()


def test_progress_tokens_are_futures_that_a_client_cancel_cancels() -> None:
    """features/feedback.py's Progress cancels on, and forgets, `work_done_progress.tokens`."""
    loop = asyncio.new_event_loop()
    try:
        server = LanguageServer("patch-check", "0")
        server.protocol.set_writer(_Sink())
        server.work_done_progress.begin("t", types.WorkDoneProgressBegin(title="x"))
        future = server.work_done_progress.tokens["t"]
        server.protocol.handle_message(
            server.protocol.structure_message(
                {
                    "jsonrpc": "2.0",
                    "method": types.WINDOW_WORK_DONE_PROGRESS_CANCEL,
                    "params": {"token": "t"},
                }
            )
        )
        assert future.cancelled()
        assert "t" in server.work_done_progress.tokens  # pygls never drops it
    finally:
        loop.close()


def test_pygls_cuts_document_lines_where_lsp_does_not() -> None:
    """LspLinesDocument exists because pygls' `lines` breaks at U+2028 (and form feeds ...);
    when this fails, pygls follows LSP and the patch can go."""
    from pygls.workspace import TextDocument, Workspace

    assert len(TextDocument("file:///a.py", "a\u2028b\nc\n").lines) == 3
    parameters = list(inspect.signature(Workspace._create_text_document).parameters)
    assert parameters == ["self", "doc_uri", "source", "version", "language_id"]


def test_incremental_changes_below_a_line_separator_land_on_their_line() -> None:
    from pygls.workspace import Workspace

    from code_evolver.lsp.pygls_patches import use_lsp_lines

    workspace = Workspace(None, types.TextDocumentSyncKind.Incremental)
    use_lsp_lines(workspace)
    uri = "file:///a.py"
    item = types.TextDocumentItem(uri=uri, language_id="python", version=1, text="a\u2028b\nc😀d\n")
    workspace.put_text_document(item)
    change = types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(1, 3), types.Position(1, 4)), text="D"
    )
    document = types.VersionedTextDocumentIdentifier(version=2, uri=uri)
    workspace.update_text_document(document, change)
    assert workspace.get_text_document(uri).source == "a\u2028b\nc😀D\n"


def test_pygls_answers_exit_with_sys_exit() -> None:
    """run_session keeps a client's `exit` to its own session by catching SystemExit."""
    source = inspect.getsource(LanguageServerProtocol.lsp_exit)
    assert "sys.exit(" in source
