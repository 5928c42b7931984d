"""The run's private report: what in-run code (the script wrapper, the pytest plugin) tells the
runner on a descriptor of its own, each line signed with a nonce the program is never given.

The child gets `CODE_EVOLVER_REPORT=<write fd>:<nonce fd>`. In-run code takes the variable out
of the environment, reads the nonce line from the nonce pipe and closes it before any of the
user's code runs, and marks the write end close-on-exec, so nothing the program starts inherits
it. A line without the nonce (a program writing to the descriptor it found) is dropped; a report
that never came is the runner's answer "the program did not reach its end".
"""

from __future__ import annotations

import contextlib
import os
import uuid

from .run_io import OutputCapture

__all__ = ["REPORT_VARIABLE", "ReportChannel"]

REPORT_VARIABLE = "CODE_EVOLVER_REPORT"
_LIMIT = 8_000_000  # a report line per test: room for tens of thousands of tests


class ReportChannel:
    """Two pipes for one run: the nonce in, the signed report out."""

    def __init__(self) -> None:
        self._nonce = uuid.uuid4().hex
        self._read, self._write = os.pipe()
        nonce_read, nonce_write = os.pipe()
        try:
            os.write(nonce_write, f"{self._nonce}\n".encode())
        finally:
            os.close(nonce_write)
        self._nonce_read = nonce_read
        self._capture: OutputCapture | None = None

    @property
    def child_fds(self) -> tuple[int, int]:
        return (self._write, self._nonce_read)

    @property
    def variable(self) -> str:
        return f"{self._write}:{self._nonce_read}"

    def started_child(self) -> None:
        """The child holds its ends: ours go, and the report is drained while the run goes on."""
        for fd in self.child_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._write = self._nonce_read = -1
        self._capture = OutputCapture(os.fdopen(self._read, "rb", buffering=0), _LIMIT)
        self._read = -1

    def join(self, timeout: float) -> None:
        if self._capture is not None:
            self._capture.join(timeout)

    @property
    def truncated(self) -> bool:
        return self._capture is not None and self._capture.truncated

    def lines(self) -> tuple[str, ...]:
        """The payload of every line signed with this run's nonce, in order."""
        if self._capture is None:
            return ()
        prefix = f"{self._nonce} "
        return tuple(
            line[len(prefix) :]
            for line in self._capture.text().splitlines()
            if line.startswith(prefix)
        )

    def close(self) -> None:
        for fd in (self._write, self._nonce_read, self._read):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._write = self._nonce_read = self._read = -1
