"""Builds the language server: wires LSP methods and commands to the handlers, nothing more."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import sys
import threading
from collections.abc import Generator
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.io_ import run_async
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

from .. import __version__
from . import handlers
from .actions import FIX, GENERATE, KINDS, STATUS, TESTS
from .state import ServerState
from .tcp import serve_tcp
from .wire import CoalescingWriter, settle_heap, warm_up


class _LspLogHandler(logging.Handler):
    """Sends our log lines to the editor's output (window/logMessage), from any thread.

    Lines logged in one turn of the event loop leave as one message per run of equal level
    (lines joined by newlines): twenty fixes starting at once then cost the editor and the
    server a handful of messages, not sixty.
    """

    def __init__(self, server: LanguageServer, state: ServerState) -> None:
        super().__init__(logging.INFO)
        self.server = server
        self.state = state
        self._lines: list[tuple[types.MessageType, str]] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        loop = self.state.loop
        if loop is None or loop.is_closed():
            return
        level = (
            types.MessageType.Error
            if record.levelno >= logging.ERROR
            else types.MessageType.Warning
            if record.levelno >= logging.WARNING
            else types.MessageType.Info
        )
        line = self.format(record)
        with self._lock:
            first = not self._lines
            self._lines.append((level, line))
        if first:
            with contextlib.suppress(RuntimeError):  # the loop closed while we were logging
                loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        start = 0
        for end in range(1, len(lines) + 1):
            if end == len(lines) or lines[end][0] != lines[start][0]:
                text = "\n".join(line for _, line in lines[start:end])
                self.server.window_log_message(
                    types.LogMessageParams(type=lines[start][0], message=text)
                )
                start = end


class _Protocol(LanguageServerProtocol):
    """pygls' protocol with three gaps closed (the third: shutdown, below).

    pygls runs workspace/executeCommand as a generator that starts the command's coroutine as a
    task of its own; $/cancelRequest (and shutdown) cancel only the outer future, so the command
    ran on and applied its edit. A request whose params fail lsprotocol's checks (a negative
    position) was logged and dropped, and the editor waited for an answer forever.
    """

    def _execute_handler(
        self, msg_id: Any, handler: Any, callback: Any, args: Any = None, kwargs: Any = None
    ) -> None:
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        outer = getattr(callback, "keywords", {}).get("result_future")
        inner = self._request_futures.get(msg_id)
        if outer is not None and inner is not None and inner is not outer:
            self._request_futures.pop(msg_id, None)  # not a client's id; pygls never drops it
            outer.add_done_callback(lambda done: inner.cancel() if done.cancelled() else None)

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        """pygls' shutdown, but walking a copy of the pending requests: cancelling one runs a
        callback that removes it from the very dict pygls walks, and the editor got "dictionary
        changed size during iteration" instead of its shutdown answer (pygls#606)."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current and not future.done():
                future.cancel()
        self._shutdown = True

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        """pygls' executeCommand, minus reading the handler's signature and type hints on every
        call (compiling its annotations: about 0.1 ms, paid twenty times over by twenty fixes
        started at once, ahead of the lightbulb that follows them). Our commands all take their
        arguments as they come (`*args`)."""
        handler = self.fm.commands.get(params.command)
        if handler is None:
            raise JsonRpcInvalidParams.of(
                ValueError(f"Command name {params.command!r} is not defined")
            )
        result = yield handler, tuple(params.arguments or ()), None
        return result

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        """pygls' answer, sent at once: a lightbulb answered while twenty fixes start would
        otherwise wait in the writer until every fix had taken its first step."""
        super()._send_response(msg_id, result, error)
        if isinstance(self.writer, CoalescingWriter):
            self.writer.flush()

    def structure_message(self, data: Any) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if isinstance(data, dict) and "id" in data and "method" in data:
                self._send_response(data["id"], error=error.to_response_error())
            raise


def build_server(config_path: str | None = None) -> tuple[LanguageServer, ServerState]:
    server = LanguageServer("code-evolver", __version__, protocol_cls=_Protocol)
    state = ServerState(config_path)

    @server.feature(types.INITIALIZE)
    def on_initialize(ls: LanguageServer, params: types.InitializeParams) -> None:
        handlers.initialize(ls, state, params)

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: LanguageServer, params: types.InitializedParams) -> None:
        warm_up(ls.protocol)
        await handlers.initialized(ls, state)
        settle_heap()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def on_configuration(ls: LanguageServer, params: types.DidChangeConfigurationParams) -> None:
        handlers.did_change_configuration(ls, state, params)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=KINDS, resolve_provider=True),
    )
    def on_code_action(ls: LanguageServer, params: types.CodeActionParams) -> Any:
        return handlers.code_action(ls, state, params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def on_resolve(ls: LanguageServer, action: types.CodeAction) -> types.CodeAction:
        return await handlers.resolve(ls, state, action)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def on_save(ls: LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        await handlers.did_save(ls, state, params)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        handlers.did_change(ls, state, params)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        state.forget(params.text_document.uri)
        state.published.pop(params.text_document.uri, None)

    @server.command(FIX)
    async def fix(ls: LanguageServer, *args: Any) -> Any:
        return await handlers.execute(ls, state, FIX, args)

    @server.command(GENERATE)
    async def generate(ls: LanguageServer, *args: Any) -> Any:
        return await handlers.execute(ls, state, GENERATE, args)

    @server.command(TESTS)
    async def tests(ls: LanguageServer, *args: Any) -> Any:
        return await handlers.execute(ls, state, TESTS, args)

    @server.command(STATUS)
    async def status(ls: LanguageServer, *args: Any) -> Any:
        return await handlers.show_status(ls, state)

    @server.feature(types.SHUTDOWN)
    def on_shutdown(ls: LanguageServer, params: Any) -> None:
        state.close()

    return server, state


def _serve_stdio(server: LanguageServer) -> None:
    """LSP over stdin/stdout with stdin read by the event loop itself.

    pygls reads stdin on a helper thread and hands every message across threads; under load
    each hand-off waits for the GIL, which shows in the lightbulb's worst latencies.
    """
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        mode = 0
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
        server.start_io()  # a regular file cannot be watched by the loop
        return
    stop = threading.Event()
    server._stop_event = stop  # pygls' shutdown() sets it to end the loop below

    async def main() -> None:
        reader = asyncio.StreamReader(limit=1 << 20)
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        server.protocol.set_writer(CoalescingWriter(sys.stdout.buffer, loop))
        await run_async(
            stop_event=stop,
            reader=reader,
            protocol=server.protocol,
            error_handler=server.report_server_error,
        )

    try:
        asyncio.run(main())
    except BrokenPipeError:
        logging.getLogger("code_evolver.lsp").error("The editor went away; shutting down.")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()


def serve(config_path: str | None = None, tcp: str | None = None) -> int:
    server, state = build_server(config_path)
    handler = _LspLogHandler(server, state)
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
                host or "127.0.0.1", int(port), lambda: build_server(config_path), _LspLogHandler
            )
        else:
            _serve_stdio(server)
    finally:
        state.close()
    return 0
