"""Start-up work that keeps the first fix from pausing the event loop: converters and the heap."""

from __future__ import annotations

import contextlib
import gc
import json
from typing import Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCResponseMessage

from ..features.endpoint_status import NOTIFICATION as STATUS_NOTIFICATION


def warm_up(protocol: LanguageServerProtocol) -> None:
    """Build cattrs' converters for the messages that work sends and receives.

    cattrs writes and compiles a converter the first time it meets a type; left to the first
    fix, that happens while the editor waits on the event loop. Twice: when cattrs meets a new
    list or mapping type it empties its cache of converters, so the first pass forgets some
    of what it built (the progress bar's create request, compiled again for each session's
    first twenty fixes); the second finds every type known and keeps them all.
    """
    _warm_once(protocol)
    _warm_once(protocol)


def _warm_once(protocol: LanguageServerProtocol) -> None:
    token = "warm-up"
    edit = types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri="file:///w", version=1
                ),
                edits=[
                    types.TextEdit(
                        range=types.Range(types.Position(0, 0), types.Position(0, 1)), new_text="x"
                    )
                ],
            )
        ]
    )
    plain_edit = types.WorkspaceEdit(
        changes={
            "file:///w": [
                types.TextEdit(
                    range=types.Range(types.Position(0, 0), types.Position(0, 0)), new_text=""
                )
            ]
        }
    )
    outgoing: list[tuple[str, Any]] = [
        (types.WINDOW_WORK_DONE_PROGRESS_CREATE, types.WorkDoneProgressCreateParams(token=token)),
        (
            types.PROGRESS,
            types.ProgressParams(
                token, types.WorkDoneProgressBegin(title="t", cancellable=True, message="m")
            ),
        ),
        (types.PROGRESS, types.ProgressParams(token, types.WorkDoneProgressReport(message="m"))),
        (types.PROGRESS, types.ProgressParams(token, types.WorkDoneProgressEnd(message="m"))),
        (
            types.WINDOW_LOG_MESSAGE,
            types.LogMessageParams(type=types.MessageType.Info, message="m"),
        ),
        (
            types.WINDOW_SHOW_MESSAGE,
            types.ShowMessageParams(type=types.MessageType.Info, message="m"),
        ),
        (types.WORKSPACE_APPLY_EDIT, types.ApplyWorkspaceEditParams(edit=edit, label="l")),
        (types.WORKSPACE_APPLY_EDIT, types.ApplyWorkspaceEditParams(edit=plain_edit)),
        # Our own notification (the status bar): its plain dict meets cattrs' dict handler,
        # whose first use empties the cache as a new list type does.
        (STATUS_NOTIFICATION, {"healthy": 1, "total": 1, "text": "t"}),
    ]
    for method, params in outgoing:
        message_type = protocol.get_message_type(method) or JsonRPCNotification
        fields = {"method": method, "params": params, "jsonrpc": "2.0"}
        if "id" in {a.name for a in message_type.__attrs_attrs__}:
            fields["id"] = 0
        json.dumps(message_type(**fields), default=protocol._serialize_message)
    diagnostic = types.Diagnostic(
        range=types.Range(types.Position(0, 0), types.Position(0, 1)), message="m"
    )
    action = types.CodeAction(
        title="t",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[diagnostic],
        is_preferred=True,
        data={"command": "c", "args": {"uri": "file:///w"}},
        command=types.Command(title="t", command="c", arguments=[{"uri": "file:///w"}]),
    )
    answers: list[tuple[str, Any]] = [
        (types.WORKSPACE_EXECUTE_COMMAND, {"applied": True, "message": "m"}),
        (types.TEXT_DOCUMENT_CODE_ACTION, [action]),
        (types.CODE_ACTION_RESOLVE, action),
    ]
    for method, result in answers:
        # pygls answers with its generic message when it kept no type for the request.
        for answer_type in (protocol.get_result_type(method), JsonRPCResponseMessage):
            if answer_type is not None:
                json.dumps(
                    answer_type(id=0, result=result, jsonrpc="2.0"),
                    default=protocol._serialize_message,
                )
    incoming = [
        (types.WORKSPACE_APPLY_EDIT, {"applied": True}),
        (types.WINDOW_WORK_DONE_PROGRESS_CREATE, None),
    ]
    for method, result in incoming:
        result_type = protocol.get_result_type(method)
        if result_type is not None:
            protocol._converter.structure(
                {"jsonrpc": "2.0", "id": 0, "result": result}, result_type
            )
    for method, params in [
        (types.WORKSPACE_EXECUTE_COMMAND, {"command": "c", "arguments": [{"uri": "file:///w"}]}),
        (types.WINDOW_WORK_DONE_PROGRESS_CANCEL, {"token": token}),
        (types.CANCEL_REQUEST, {"id": 1}),
    ]:
        with contextlib.suppress(Exception):
            message = {"jsonrpc": "2.0", "method": method, "params": params}
            if method == types.WORKSPACE_EXECUTE_COMMAND:
                message["id"] = 0
            incoming_type = protocol.get_message_type(method)
            if incoming_type is not None:
                protocol._converter.structure(message, incoming_type)


def settle_heap() -> None:
    """Exempt everything alive after start-up from the garbage collector's full passes.

    A full collection walks every container object: some 60,000 once pygls, lsprotocol and
    cattrs' converters are loaded, about 20 ms during which the event loop answers nothing.
    Python starts one whenever enough new objects have outlived the young generations, which
    twenty fixes' messages do; frozen, those start-up objects are no longer walked. Freezing
    is instant; a collection first would itself pause the loop for those 20 ms.
    """
    gc.freeze()
