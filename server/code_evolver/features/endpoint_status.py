"""The endpoints' health: the status item's notification and the Show Status command."""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from ..worker.host import JobFailed, WorkerGone
from .state import ServerState

COMMAND = "codeEvolver.showStatus"
# The notification that carries the endpoints' health to the editor's status item.
NOTIFICATION = "codeEvolver/status"


def send_status(server: LanguageServer, state: ServerState) -> None:
    if state.health is not None:
        server.protocol.notify(NOTIFICATION, state.health)


async def show_status(server: LanguageServer, state: ServerState) -> dict[str, Any]:
    try:
        payload = await state.worker.status()
    except (WorkerGone, JobFailed) as error:
        payload = {**(state.health or {"healthy": 0, "total": 0}), "text": str(error)}
    server.window_log_message(
        types.LogMessageParams(type=types.MessageType.Info, message=payload["text"])
    )
    return payload
