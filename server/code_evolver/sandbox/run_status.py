"""How a namespaced run's set-up went, told on a descriptor the program never holds.

The run's first process (isolation.py `_FIRST`) writes one line on a pipe of the runner's before
the program starts: `started`, or `failed <why>`; then it closes its end, so the program (and
anything it starts) cannot write there. A program's own exit code or output therefore says
nothing about the sandbox: exiting 125 with a sandbox-like line on stderr is just a failure.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["SETUP_FAILED", "SetupChannel", "program_exit_code"]

# How a run's "could not be started" reason begins when its namespaces or overlay failed.
SETUP_FAILED = "the sandbox for the run could not be set up"
STARTED = "started"
_FAILED = "failed "
# A shell reports a child killed by signal N as exit code 128+N; N goes up to SIGRTMAX (64).
_SIGNALLED = range(129, 193)
_MOST = 4096


class SetupChannel:
    """The pipe of one run's set-up status: the child's end goes to its first process only."""

    def __init__(self) -> None:
        self._read, self.write_fd = os.pipe()
        os.set_blocking(self._read, False)

    def started_child(self) -> None:
        """The child holds its end now: the runner's copy goes, so the end of the run is EOF."""
        self._close_write()

    def problem(self, exit_code: int | None, stderr: str) -> str | None:
        """None when the program started; else why the sandbox could not be set up."""
        said = self._said()
        if said == STARTED:
            return None
        if said.startswith(_FAILED):
            printed = [line.strip() for line in stderr.splitlines() if line.strip()]
            # mount prints its own reason (and adds one on dmesg); the program never ran
            detail = f": {printed[0]}" if printed else ""
            return f"{SETUP_FAILED} ({said.removeprefix(_FAILED)}{detail})"
        code = "" if exit_code is None else f", exit code {exit_code}"
        return f"{SETUP_FAILED} (its first process ended before it said so{code})"

    def close(self) -> None:
        self._close_write()
        if self._read >= 0:
            with contextlib.suppress(OSError):
                os.close(self._read)
            self._read = -1

    def _close_write(self) -> None:
        if self.write_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.write_fd)
            self.write_fd = -1

    def _said(self) -> str:
        data = b""
        with contextlib.suppress(BlockingIOError, OSError):
            while len(data) < _MOST and (chunk := os.read(self._read, _MOST)):
                data += chunk
        lines = data.decode(errors="replace").splitlines()
        return lines[0].strip() if lines else ""

    def __enter__(self) -> SetupChannel:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def program_exit_code(exit_code: int) -> int:
    """The program's own ending: its exit code, or minus the signal that killed it.

    Its first process is a shell, which says 128+N for a child killed by signal N; a program
    that exits with such a code on its own is reported as killed, as a shell would say too.
    """
    return -(exit_code - 128) if exit_code in _SIGNALLED else exit_code
