"""The status pipe: how the namespace's first process (ns_init.py) says how a run ended."""

from __future__ import annotations

import contextlib
import os

__all__ = ["StatusPipe", "exit_code_from", "setup_problem"]


class StatusPipe:
    """The pipe on which the namespace's first process says how the run ended."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe()
        os.set_blocking(self.read_end, False)

    def close_write_end(self) -> None:
        if self.write_end >= 0:
            os.close(self.write_end)
            self.write_end = -1

    def read(self) -> list[str]:
        # The runner waited for `unshare`, which waits for its child: what was said is there.
        data = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(self.read_end, 4096):
                data += chunk
        self.close()
        return data.decode("utf-8", errors="replace").splitlines()

    def close(self) -> None:
        self.close_write_end()
        if self.read_end >= 0:
            os.close(self.read_end)
            self.read_end = -1


def setup_problem(said: list[str], program: str) -> str | None:
    for line in said:
        word, _, rest = line.partition(" ")
        if word == "error":
            return f"the sandbox for the run could not be set up ({rest})"
        if word == "exec":
            number, _, reason = rest.partition(" ")
            if number == "2":
                return f"command not found: {program}"
            if number == "13":
                return f"permission denied: {program}"
            return f"could not start {program}: {reason}"
    return None


def exit_code_from(said: list[str], fallback: int) -> int:
    """The program's own ending: its exit code, or minus the signal that killed it."""
    for line in said:
        word, _, number = line.partition(" ")
        if word in ("exit", "signal") and number.lstrip("-").isdigit():
            return int(number) if word == "exit" else -int(number)
    return fallback
