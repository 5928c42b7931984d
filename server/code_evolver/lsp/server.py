"""Builds the language server: wires LSP methods and commands to the features, nothing more."""

from __future__ import annotations

import logging
import sys
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from .. import __version__
from ..features import actions, endpoint_status, fix, generate, generate_tests, run_diagnostics
from ..features.state import ServerState
from . import lifecycle
from .editor_log import EditorLogHandler
from .pygls_patches import PatchedProtocol, serve_stdio, use_lsp_lines
from .tcp import serve_tcp
from .warm_up import settle_heap, warm_up

# The work behind each command, and the lightbulb entries of the features, in menu order.
WORKS: dict[str, actions.Work] = {
    fix.COMMAND: fix.run,
    generate.COMMAND: generate.run,
    generate_tests.COMMAND: generate_tests.run,
}
OFFERS: tuple[actions.Offer, ...] = (fix.offer, generate.offer)


def build_server(config_path: str | None = None) -> tuple[LanguageServer, ServerState]:
    server = LanguageServer("code-evolver", __version__, protocol_cls=PatchedProtocol)
    state = ServerState(config_path)

    @server.feature(types.INITIALIZE)
    def on_initialize(ls: LanguageServer, params: types.InitializeParams) -> None:
        use_lsp_lines(ls.workspace)
        lifecycle.initialize(ls, state, params)

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: LanguageServer, params: types.InitializedParams) -> None:
        warm_up(ls.protocol)
        await lifecycle.initialized(ls, state, lambda: endpoint_status.send_status(ls, state))
        settle_heap()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def on_configuration(ls: LanguageServer, params: types.DidChangeConfigurationParams) -> None:
        lifecycle.did_change_configuration(ls, state, params)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=actions.KINDS, resolve_provider=True),
    )
    def on_code_action(ls: LanguageServer, params: types.CodeActionParams) -> Any:
        return actions.lightbulb(ls, state, params, OFFERS)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def on_resolve(ls: LanguageServer, action: types.CodeAction) -> types.CodeAction:
        return await actions.resolve(ls, state, action, WORKS)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def on_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        await run_diagnostics.did_open(ls, state, params)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def on_save(ls: LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        await run_diagnostics.did_save(ls, state, params)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        run_diagnostics.did_change(ls, state, params)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        run_diagnostics.did_close(state, params)

    for command, work in WORKS.items():
        _register_command(server, state, command, work)

    @server.command(endpoint_status.COMMAND)
    async def status(ls: LanguageServer, *args: Any) -> Any:
        return await endpoint_status.show_status(ls, state)

    @server.feature(types.SHUTDOWN)
    def on_shutdown(ls: LanguageServer, params: Any) -> None:
        state.close()

    return server, state


def _register_command(
    server: LanguageServer, state: ServerState, command: str, work: actions.Work
) -> None:
    @server.command(command)
    async def run(ls: LanguageServer, *args: Any) -> Any:
        return await actions.execute(ls, state, work, args)


def serve(config_path: str | None = None, tcp: str | None = None) -> int:
    server, state = build_server(config_path)
    handler = EditorLogHandler(server, state)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    ours = logging.getLogger("code_evolver")
    ours.addHandler(handler)
    ours.setLevel(logging.INFO)
    ours.propagate = False  # the editor shows stderr too; each line once is enough
    try:
        if tcp:
            host, _, port = tcp.rpartition(":")
            if not port.isdigit():
                print(f"code-evolver: --tcp wants HOST:PORT, got {tcp!r}", file=sys.stderr)
                return 2
            serve_tcp(
                host or "127.0.0.1", int(port), lambda: build_server(config_path), EditorLogHandler
            )
        else:
            serve_stdio(server)
    finally:
        state.close()
    return 0
