"""Scratch folders that name their owner, so a later worker removes what a dead one left."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["PREFIX", "make_scratch", "remove_tree", "sweep_dead"]

PREFIX = "code-evolver-"
# Only folders holding this file are ever swept: it is written by make_scratch and nothing else.
MARKER = ".code-evolver-owner"
_swept = threading.Event()


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (Linux), which tells a reused pid apart."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def make_scratch() -> str:
    """A new folder in the temp folder, marked as this process's; the first call per process
    also sweeps folders of processes that died without removing theirs."""
    if not _swept.is_set():
        _swept.set()
        sweep_dead()
    folder = tempfile.mkdtemp(prefix=PREFIX)
    pid = os.getpid()
    Path(folder, MARKER).write_text(f"{pid} {_start_time(pid) or '-'}\n", encoding="ascii")
    return folder


def _owner_alive(marker: Path) -> bool:
    try:
        pid_text, started = marker.read_text(encoding="ascii").split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return True  # unreadable: not provably ours to remove
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started == "-" or _start_time(pid) in (None, started)


def sweep_dead(base: str | None = None) -> list[str]:
    """Remove marked scratch folders whose owner is gone; returns what was removed."""
    removed: list[str] = []
    base = base or tempfile.gettempdir()
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        marker = Path(entry.path, MARKER)
        with contextlib.suppress(OSError):
            owned = entry.is_dir(follow_symlinks=False) and marker.is_file()
            if owned and not _owner_alive(marker):
                remove_tree(entry.path)
                removed.append(entry.path)
    return removed


def remove_tree(path: str) -> None:
    """rmtree that also removes folders a run (or overlayfs' work folder) left unreadable."""
    tried: set[str] = set()

    def allow_and_retry(function: object, failed: str, _error: object) -> None:
        if failed in tried:
            return
        tried.add(failed)
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed) or ".", stat.S_IRWXU)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, stat.S_IRWXU)
                _rmtree(failed, allow_and_retry)
            elif callable(function):
                function(failed)

    _rmtree(path, allow_and_retry)


def _rmtree(path: str, handler: Callable[[object, str, object], None]) -> None:
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=handler)
    else:
        shutil.rmtree(path, onerror=handler)
