"""The session's start and settings: what the client supports, the workspace, the config."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from ..features.feedback import tell
from ..features.state import ServerState
from ..worker.host import WorkerGone

log = logging.getLogger("code_evolver.lsp")


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


async def initialized(
    server: LanguageServer, state: ServerState, on_health: Callable[[], None]
) -> None:
    """Say what is wrong with the settings, and start the worker (it reports health)."""
    if state.pending_problem:
        tell(server, types.MessageType.Warning, state.pending_problem)
    state.loop = asyncio.get_running_loop()
    state.health_listeners.append(on_health)
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
