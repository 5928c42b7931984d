"""Every place we lean on pygls internals, each with why, for pygls 2.1.x (pinned in pyproject).

tests/test_pygls_patches.py checks the internals each patch relies on, so a pygls release that
changes one fails there first, by name, rather than as a hang or a lost answer elsewhere.
The one other use of pygls beyond its methods, features/feedback.py's of the progress tokens
(an attribute pygls' Progress documents), is checked there too.
"""

from __future__ import annotations

import asyncio
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
from pygls.workspace import TextDocument, Workspace

from ..pipeline.lines import split_lines
from .output import CoalescingWriter

# The pygls releases these patches were written against and tested with.
PYGLS_TESTED = ">=2.1.0,<2.2"


class PatchedProtocol(LanguageServerProtocol):
    """pygls' protocol with five gaps closed; each method says which and why."""

    def _execute_handler(
        self, msg_id: Any, handler: Any, callback: Any, args: Any = None, kwargs: Any = None
    ) -> None:
        """pygls runs workspace/executeCommand as a generator that starts the command's
        coroutine as a task of its own, stored in `_request_futures` under a fresh key;
        $/cancelRequest (and shutdown) cancel only the outer future, so the command ran on and
        applied its edit. Tie the inner task to the outer future's cancellation."""
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
        otherwise wait in the writer until every fix had taken its first step (measured:
        codeAction p99 under load 2.45x idle before, 1.36x after)."""
        super()._send_response(msg_id, result, error)
        if isinstance(self.writer, CoalescingWriter):
            self.writer.flush()

    def structure_message(self, data: Any) -> Any:
        """A request whose params fail lsprotocol's checks (a negative position) was logged and
        dropped by pygls, and the editor waited for an answer forever: answer it with the
        error instead."""
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if isinstance(data, dict) and "id" in data and "method" in data:
                self._send_response(data["id"], error=error.to_response_error())
            raise


class LspLinesDocument(TextDocument):
    """pygls' document with `lines` cut by LSP rules. pygls uses `source.splitlines(True)`,
    which also breaks at form feeds, U+2028, NEL and \\x1c-\\x1e: an incremental change below
    such a character was applied to the wrong line, so the server's text no longer matched
    the editor's. pygls reads `lines` for incremental changes and its position conversions."""

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(split_lines(self.source, keepends=True))


def use_lsp_lines(workspace: Workspace) -> None:
    """Make `workspace` create LspLinesDocument; pygls builds documents only in
    `Workspace._create_text_document`, with these arguments."""

    def create(
        doc_uri: str,
        source: str | None = None,
        version: int | None = None,
        language_id: str | None = None,
    ) -> TextDocument:
        return LspLinesDocument(
            doc_uri,
            source=source,
            version=version,
            language_id=language_id,
            sync_kind=workspace._sync_kind,
            position_codec=workspace.position_codec,
        )

    workspace._create_text_document = create  # type: ignore[method-assign]


async def run_session(server: LanguageServer, reader: Any, writer: Any) -> None:
    """pygls' own message loop (`run_async`) for one connection, until shutdown or `exit`.

    pygls' `shutdown()` ends the loop through `_stop_event`, which only its own start_io and
    start_tcp set; and pygls answers the client's `exit` with `sys.exit()`, which here must end
    this session only (a TCP server serves many).
    """
    stop = threading.Event()
    server._stop_event = stop
    server.protocol.set_writer(writer)
    try:
        await run_async(
            stop_event=stop,
            reader=reader,
            protocol=server.protocol,
            error_handler=server.report_server_error,
        )
    except SystemExit:
        pass
    finally:
        stop.set()


def serve_stdio(server: LanguageServer) -> None:
    """LSP over stdin/stdout with stdin read by the event loop itself.

    pygls reads stdin on a helper thread and hands every message across threads; under load
    each hand-off waits for the GIL, which shows in the lightbulb's worst latencies. The loop
    below is pygls' own `run_async`; pygls' `shutdown()` ends it through `_stop_event`.
    """
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        mode = 0
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
        server.start_io()  # a regular file cannot be watched by the loop
        return

    async def main() -> None:
        reader = asyncio.StreamReader(limit=1 << 20)
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        await run_session(server, reader, CoalescingWriter(sys.stdout.buffer, loop))

    try:
        asyncio.run(main())
    except BrokenPipeError:
        logging.getLogger("code_evolver.lsp").error("The editor went away; shutting down.")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
