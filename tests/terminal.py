"""Editors started on a pseudo-terminal, as a person starts them, and stopped by the test."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_ESCAPES = re.compile(r"\x1b(\[[0-9;?>=]*[ -/]*[@-~]|[()][0-9A-B]|[=>78])")


@dataclass
class Run:
    code: int  # the editor's exit code; -1 when the test had to kill it
    why_killed: str  # empty unless killed: the time limit, or what `stop_if` saw
    screen: str  # the last of what the editor drew (escape sequences and all), for failures


def run_on_terminal(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    kill_after: float,
    stop_if: Callable[[], str | None] = lambda: None,
) -> Run:
    """Run `argv` on a fresh 80x24 terminal until it exits, `kill_after` seconds pass, or
    `stop_if()` returns a reason; the editor's whole process group is killed at the end."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def own_terminal() -> None:  # runs in the child after setsid(): the pty controls it
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=own_terminal,
    )
    os.close(slave)
    drawn: list[bytes] = []

    def drain() -> None:  # an editor whose terminal is not read blocks once the pty is full
        with contextlib.suppress(OSError):
            while chunk := os.read(master, 65536):
                drawn.append(chunk)
                del drawn[:-64]

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    why = ""
    deadline = time.monotonic() + kill_after
    try:
        while process.poll() is None:
            reason = stop_if()
            if reason:
                why = reason
                break
            if time.monotonic() > deadline:
                why = f"still running after {kill_after:.0f} s"
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the editor and the server it started
        process.wait()
        reader.join(timeout=5)
        os.close(master)
    screen = _ESCAPES.sub("", b"".join(drawn).decode(errors="replace"))[-4000:]
    return Run(-1 if why else process.returncode, why, screen)
