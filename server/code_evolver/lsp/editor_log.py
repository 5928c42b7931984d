"""Our log lines in the editor's output (window/logMessage), from any thread, batched."""

from __future__ import annotations

import contextlib
import logging
import threading

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from ..features.state import ServerState


class EditorLogHandler(logging.Handler):
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
