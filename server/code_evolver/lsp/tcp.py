"""LSP over TCP: every connection is a session of its own, and a port probe changes nothing.

pygls' `start_tcp` serves one `LanguageServer` to every connection: the newest connection took
over the writer, so a second editor received the first one's answers, and the first
connection to close (a port probe that connects and hangs up) stopped the whole server. Here
each connection gets its own server, state and worker process; closing it, or the client's
`exit`, ends that session only, and the listener goes on until the process is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sys
from collections.abc import Callable

from pygls.lsp.server import LanguageServer

from ..features.state import ServerState
from .pygls_patches import run_session

log = logging.getLogger("code_evolver.lsp")

OpenSession = Callable[[], tuple[LanguageServer, ServerState]]
LogHandlerFor = Callable[[LanguageServer, ServerState], logging.Handler]

# The session whose task logged a record. Tasks pygls starts for a message inherit it from
# the connection's task; a record logged on another thread has none and goes to every session.
_SESSION: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "code_evolver_tcp_session", default=None
)


class _OwnSessionOnly(logging.Filter):
    """Keeps one session's log lines out of the other sessions' editors."""

    def __init__(self, session: object) -> None:
        super().__init__()
        self.session = session

    def filter(self, record: logging.LogRecord) -> bool:
        owner = _SESSION.get()
        return owner is None or owner is self.session


def serve_tcp(
    host: str,
    port: int,
    open_session: OpenSession,
    log_handler_for: LogHandlerFor,
) -> None:
    """Listen on host:port until the process is stopped; one session per connection."""
    asyncio.run(_listen(host, port, open_session, log_handler_for))


async def _listen(
    host: str,
    port: int,
    open_session: OpenSession,
    log_handler_for: LogHandlerFor,
) -> None:
    sessions: set[asyncio.Task[None]] = set()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        sessions.add(task)
        try:
            await _session(reader, writer, open_session, log_handler_for)
        finally:
            sessions.discard(task)

    listener = await asyncio.start_server(connected, host, port, limit=1 << 20)
    address = listener.sockets[0].getsockname()[:2]
    # The editor's log exists only once a session does; whoever started us reads stderr.
    print(f"code-evolver: listening on {address[0]}:{address[1]}", file=sys.stderr, flush=True)
    try:
        async with listener:
            await listener.serve_forever()
    finally:
        for task in list(sessions):
            task.cancel()
        if sessions:
            await asyncio.wait(sessions, timeout=15)


async def _session(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    open_session: OpenSession,
    log_handler_for: LogHandlerFor,
) -> None:
    peer = writer.get_extra_info("peername")
    server, state = open_session()
    session = object()
    _SESSION.set(session)  # this task's own context: other connections never see it
    handler = log_handler_for(server, state)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_OwnSessionOnly(session))
    ours = logging.getLogger("code_evolver")
    ours.addHandler(handler)
    try:
        # The writer has write(bytes), as pygls' own start_tcp uses it.
        await run_session(server, reader, writer)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the editor went away mid-message
    finally:
        ours.removeHandler(handler)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        # On the loop, as the shutdown request does: closing the worker touches its pipe's
        # transport, which only the loop's thread may. It exits as soon as its stdin closes.
        state.close()
        log.info("Session with %s ended", peer)
