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
    """Children, their children and so on (a run in namespaces is worker > unshare > ns_init >
    program)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children_of(pending.pop()):
            found.append(child)
            pending.append(child)
    return found


def program_pid(reported: int, script: str) -> int:
    """The pid, as seen here, of the program running `script`. Inside a run's PID namespace the
    program's own os.getpid() (`reported`) is the namespace's, so it is found by its command
    line `<python> <script>`; without namespaces the reported pid is the one."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")[:-1]
            if len(argv) == 2 and argv[1] == script.encode():
                return int(entry)
    return reported
