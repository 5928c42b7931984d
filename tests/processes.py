"""Processes seen from outside, through /proc: alive or not, whose child, which is the worker."""

from __future__ import annotations

import contextlib
import os


def alive(pid: int) -> bool:
    """True while `pid` runs; a zombie waiting for its parent counts as gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry))
    return found


def worker_of(pid: int) -> int | None:
    """The language server's worker process (code_evolver.worker.process), if it runs."""
    for child in children_of(pid):
        with contextlib.suppress(OSError), open(f"/proc/{child}/cmdline", "rb") as handle:
            if b"code_evolver.worker.process" in handle.read():
                return child
    return None


def descendants_of(pid: int) -> list[int]:
    """Children, their children, and so on."""
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children_of(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def running(script: str) -> list[int]:
    """Live processes whose command line runs `script`.

    A run's own pid (os.getpid() inside it) is its pid in the run's PID namespace; from
    outside, it is found by what it runs.
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if script.encode() in argv and alive(int(entry)):
            found.append(int(entry))
    return found
