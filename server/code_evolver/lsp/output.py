"""How the server's messages leave it: the messages of one loop turn in one write."""

from __future__ import annotations

import asyncio
import contextlib
from typing import BinaryIO


class CoalescingWriter:
    """pygls' writer, but the messages written in one turn of the event loop leave in one
    write() system call. A burst of progress and log messages (twenty fixes starting at once)
    then costs a few writes instead of a hundred. Answers to the editor's requests do not wait
    for the turn to end: the protocol calls flush() after each one. Call it from the loop's
    thread only (the language server has no other)."""

    def __init__(self, stdout: BinaryIO, loop: asyncio.AbstractEventLoop) -> None:
        self._stdout = stdout
        self._loop = loop
        self._pending: list[bytes] = []
        self._broken = False

    def write(self, data: bytes) -> None:
        if self._broken:
            raise BrokenPipeError("the editor closed the connection")
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        try:
            self._stdout.write(data)
            self._stdout.flush()
        except (BrokenPipeError, ValueError, OSError):
            self._broken = True  # the editor is gone; stdin's end stops the server

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.flush()
        self._stdout.close()
