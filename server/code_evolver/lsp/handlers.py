"""Feature handlers: each takes the server and the state, and never lets an error escape."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from ..cancel import CancelToken
from ..jobs.host import JobFailed, WorkerGone
from ..jobs.tasks import CheckJob
from ..pipeline.checker import Check
from ..values import Target
from . import work
from .actions import FIX, GENERATE, STATUS_NOTIFICATION, TESTS, code_actions, diagnostic_json
from .state import ServerState

log = logging.getLogger("code_evolver.lsp")


Work = Callable[[LanguageServer, ServerState, Mapping[str, Any]], Awaitable[work.WorkResult]]
WORKS: dict[str, Work] = {FIX: work.fix, GENERATE: work.generate, TESTS: work.generate_tests}


def tell(
    server: LanguageServer, level: types.MessageType, sentence: str, detail: str | None = None
) -> None:
    server.window_show_message(types.ShowMessageParams(type=level, message=sentence))
    server.window_log_message(types.LogMessageParams(type=level, message=detail or sentence))


def initialize(server: LanguageServer, state: ServerState, params: types.InitializeParams) -> None:
    caps = params.capabilities
    text = caps.text_document
    action_caps = text.code_action if text else None
    resolve = action_caps.resolve_support if action_caps else None
    state.client_supports_resolve = bool(resolve and "edit" in resolve.properties)
    state.client_supports_progress = bool(caps.window and caps.window.work_done_progress)
    edit_caps = caps.workspace.workspace_edit if caps.workspace else None
    state.client_supports_document_changes = bool(edit_caps and edit_caps.document_changes)
    state.client_supports_create = bool(
        edit_caps
        and edit_caps.resource_operations
        and types.ResourceOperationKind.Create in edit_caps.resource_operations
    )
    folders = params.workspace_folders or []
    root = (
        (to_fs_path(folders[0].uri) if folders else None)
        or (to_fs_path(params.root_uri) if params.root_uri else None)
        or params.root_path
    )
    if root:
        state.workspace_root = root
    options = params.initialization_options
    state.pending_problem = state.load(options if isinstance(options, Mapping) else None)


async def initialized(server: LanguageServer, state: ServerState) -> None:
    if state.pending_problem:
        tell(server, types.MessageType.Warning, state.pending_problem)
    state.loop = asyncio.get_running_loop()
    state.health_listeners.append(lambda: send_status(server, state))
    config = state.config
    log.info(
        "Code Evolver ready: config %s, generator %s at %s, trusted=%s",
        config.source or "built-in defaults",
        config.generator_model,
        ", ".join(config.get_model_endpoints("generator")),
        state.trusted,
    )
    # The worker reports the endpoints' health as soon as it has loaded the settings.
    try:
        await state.worker.start()
    except WorkerGone as error:
        tell(server, types.MessageType.Error, str(error))


def send_status(server: LanguageServer, state: ServerState) -> None:
    if state.health is not None:
        server.protocol.notify(STATUS_NOTIFICATION, state.health)


def did_change_configuration(
    server: LanguageServer, state: ServerState, params: types.DidChangeConfigurationParams
) -> None:
    settings = params.settings
    if isinstance(settings, Mapping) and isinstance(settings.get("codeEvolver"), Mapping):
        settings = settings["codeEvolver"]
    if not isinstance(settings, Mapping) or not settings:
        return
    problem = state.load(settings)
    if problem:
        tell(server, types.MessageType.Warning, problem)


def code_action(
    server: LanguageServer, state: ServerState, params: types.CodeActionParams
) -> list[types.CodeAction] | None:
    try:
        return code_actions(server, state, params)
    except Exception:  # the lightbulb must never take the editor down
        log.exception("codeAction failed for %s", params.text_document.uri)
        return []


async def resolve(
    server: LanguageServer, state: ServerState, action: types.CodeAction
) -> types.CodeAction:
    if not state.client_supports_resolve:
        # Such actions carry our command, which does the work; resolving too would do it twice.
        return action
    data = action.data if isinstance(action.data, Mapping) else {}
    runner = WORKS.get(str(data.get("command")))
    args = data.get("args")
    if runner is None or not isinstance(args, Mapping):
        return action
    result = await _perform(server, state, runner, args)
    if result.edit is not None:
        action.edit = result.edit
    return action


async def execute(
    server: LanguageServer, state: ServerState, command: str, arguments: Any
) -> dict[str, Any]:
    args = arguments[0] if isinstance(arguments, (list, tuple)) and arguments else {}
    if not isinstance(args, Mapping):
        args = {}
    result = await _perform(server, state, WORKS[command], args)
    if result.edit is None:
        return {"applied": False, "message": result.message}
    applied = await _apply(server, state, result)
    return {"applied": applied, "message": result.message}


async def _perform(
    server: LanguageServer, state: ServerState, runner: Work, args: Mapping[str, Any]
) -> work.WorkResult:
    try:
        result = await runner(server, state, args)
    except asyncio.CancelledError:
        server.window_log_message(
            types.LogMessageParams(type=types.MessageType.Info, message="Cancelled by the editor")
        )
        raise
    except Exception as error:
        sentence, detail = work.explain(error)
        level = types.MessageType.Info if sentence == "Cancelled." else types.MessageType.Error
        tell(server, level, sentence, detail)
        return work.WorkResult(None, sentence, None, level)
    tell(server, result.level, result.message)
    return result


async def _apply(server: LanguageServer, state: ServerState, result: work.WorkResult) -> bool:
    snap = result.snapshot
    if result.edit is None:
        return False
    if snap is not None:
        current = server.workspace.text_documents.get(snap.uri)
        if current is None or current.version != snap.version:
            tell(
                server,
                types.MessageType.Warning,
                f"{snap.path} changed while Code Evolver worked, so the result was not applied "
                "(your edits are kept). Run the command again.",
                f"Unapplied result for {snap.uri}: {result.message}",
            )
            return False
    response = await server.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=result.edit, label="Code Evolver")
    )
    if not response.applied:
        tell(
            server,
            types.MessageType.Warning,
            "The editor refused the edit (the document probably changed meanwhile); nothing "
            f"was changed. {response.failure_reason or ''}".strip(),
        )
    return bool(response.applied)


async def show_status(server: LanguageServer, state: ServerState) -> dict[str, Any]:
    try:
        payload = await state.worker.status()
    except (WorkerGone, JobFailed) as error:
        payload = {**(state.health or {"healthy": 0, "total": 0}), "text": str(error)}
    server.window_log_message(
        types.LogMessageParams(type=types.MessageType.Info, message=payload["text"])
    )
    return payload


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


async def did_save(
    server: LanguageServer, state: ServerState, params: types.DidSaveTextDocumentParams
) -> None:
    """Run a saved Python file and publish its failure as a diagnostic (run_on_save)."""
    try:
        settings = state.config.settings
        uri = params.text_document.uri
        document = server.workspace.text_documents.get(uri)
        if (
            not settings.run_on_save
            or not state.trusted
            or document is None
            or (document.language_id or "") != "python"
        ):
            return
        path = to_fs_path(uri) or uri
        job = CheckJob(Target(path, "python", work._root_for(state, path)), document.source)
        result = await state.worker.run(job, lambda step: None, CancelToken())
        assert isinstance(result, Check)
        diagnostics = []
        if result.failures:
            line = result.error.line if result.error and result.error.line is not None else 0
            if result.syntax_error and "(line " in result.syntax_error:
                line = int(result.syntax_error.rsplit("(line ", 1)[1].rstrip(")")) - 1
            text = document.lines[line] if line < len(document.lines) else ""
            diagnostics.append(
                types.Diagnostic(
                    range=types.Range(
                        start=types.Position(line=line, character=0),
                        end=types.Position(line=line, character=len(text.rstrip())),
                    ),
                    message=result.summary,
                    severity=types.DiagnosticSeverity.Error,
                    source="code-evolver",
                )
            )
        state.published[uri] = [diagnostic_json(d) for d in diagnostics]
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, diagnostics=diagnostics, version=document.version
            )
        )
    except Exception:  # a notification handler never raises
        log.exception("run on save failed")
