"""Shared helpers for the reliability tests: a language server session, the server process seen
from outside (/proc), and the programs and replies the scenarios use.

Not a conftest: tests/conftest.py already owns that module name; import this module by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from lsp_harness import Editor
from processes import children_of, worker_of

SERVER_COMMAND = [sys.executable, "-m", "code_evolver", "lsp"]


@contextlib.asynccontextmanager
async def lsp_session(
    root: Path,
    config: Path | None,
    *,
    trusted: bool = True,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    capabilities: types.ClientCapabilities | None = None,
    command: list[str] | None = None,
) -> AsyncIterator[Editor]:
    """A started, initialized server with an Editor on `root`; shut down cleanly afterwards."""
    root.mkdir(parents=True, exist_ok=True)
    client = await ClientServerConfig(
        server_command=command or SERVER_COMMAND, server_env=env
    ).start()
    assert isinstance(client, LanguageClient)
    editor = Editor(client, root)
    try:
        await editor.start(config, trusted=trusted, overrides=overrides, capabilities=capabilities)
        yield editor
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 30)
        await client.stop()


def server_pid(editor: Editor) -> int:
    process = editor.client._server  # pytest-lsp keeps the asyncio subprocess here
    assert process is not None
    return process.pid


# ---------------------------------------------------------------- the server process from outside


@dataclass(frozen=True)
class ProcessCensus:
    threads: int
    sockets: int
    children: tuple[int, ...]

    def within(self, limit: ProcessCensus) -> bool:
        return (
            self.threads <= limit.threads
            and self.sockets <= limit.sockets
            and len(self.children) <= len(limit.children)
        )


def census(pid: int) -> ProcessCensus:
    """Threads and open sockets of the server `pid` and its worker process, and the processes
    they started besides the worker (user code), read from /proc."""
    worker = worker_of(pid)
    pids = [pid] if worker is None else [pid, worker]
    threads = sockets = 0
    children: list[int] = []
    for one in pids:
        with contextlib.suppress(OSError):
            threads += len(os.listdir(f"/proc/{one}/task"))
            for fd in os.listdir(f"/proc/{one}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{one}/fd/{fd}").startswith("socket:"):
                        sockets += 1
        children.extend(c for c in children_of(one) if c != worker)
    return ProcessCensus(threads, sockets, tuple(children))


async def settle(pid: int, limit: ProcessCensus, timeout: float = 15.0) -> ProcessCensus:
    """Wait (up to `timeout`) for the server to drop back within `limit`; the last census."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    now = census(pid)
    while not now.within(limit) and loop.time() < deadline:
        await asyncio.sleep(0.05)
        now = census(pid)
    return now


def wait_until(predicate: Callable[[], object], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return bool(predicate())
        time.sleep(0.02)
    return True


# ---------------------------------------------------------------- documents and replies


def fence(code: str, language: str = "python") -> str:
    return f"Here you go:\n```{language}\n{code}```\nDone."


def errors(editor: Editor) -> list[str]:
    return [m.message for m in editor.client.messages if m.type == types.MessageType.Error]


def logs(editor: Editor) -> list[str]:
    return [m.message for m in editor.client.log_messages]


def whole_range(line: int = 0) -> dict[str, Any]:
    return {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}


def socket_peers(pid: int, *, with_worker: bool = False) -> list[str]:
    """Debug aid: the endpoints of `pid`'s sockets ("local -> remote state"), and of its worker's
    with `with_worker`; a socket in no table of /proc/PID/net is listed as "unlisted INODE"."""
    worker = worker_of(pid) if with_worker else None
    out = []
    for one in [pid] if worker is None else [pid, worker]:
        mine: list[str] = []
        inodes = set()
        for fd in os.listdir(f"/proc/{one}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{one}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        listed = set()
        for table in ("tcp", "tcp6", "unix"):
            with contextlib.suppress(OSError), open(f"/proc/{one}/net/{table}") as handle:
                for row in handle.read().splitlines()[1:]:
                    cols = row.split()
                    if table == "unix":
                        if len(cols) > 6 and cols[6] in inodes:
                            listed.add(cols[6])
                            mine.append(f"unix {cols[6]}")
                    elif len(cols) > 9 and cols[9] in inodes:
                        listed.add(cols[9])
                        local, remote = (int(cols[i].split(":")[1], 16) for i in (1, 2))
                        mine.append(f"{table} {local} -> {remote} state {cols[3]}")
        mine.extend(f"unlisted {inode}" for inode in sorted(inodes - listed))
        who = "worker: " if one == worker else "server: " if with_worker else ""
        out.extend(who + entry for entry in mine)
    return out


def tcp_connections_to(port: int, pid: int | None = None) -> list[str]:
    """Established TCP connections of `pid` (default: this process) to 127.0.0.1:`port`."""
    return [
        p
        for p in socket_peers(pid or os.getpid())
        if p.startswith("tcp") and p.split()[3] == str(port) and p.endswith("01")
    ]


def give_up(editor: Editor, msg_id: str, task: asyncio.Future[Any]) -> None:
    """Cancel a request like an editor does: $/cancelRequest, then forget it.

    The client stops waiting for the answer (pytest-lsp would otherwise choke on the late
    response to a future it no longer has), and the asyncio task is cancelled.
    """
    protocol = editor.client.protocol
    protocol.notify("$/cancelRequest", types.CancelParams(id=msg_id))
    protocol._request_futures.pop(msg_id, None)
    task.cancel()


def send_raw(editor: Editor, msg_id: str, method: str, params: Any) -> asyncio.Future[Any]:
    """Send a request as plain JSON, past the typed API (which refuses negative positions)."""
    import concurrent.futures

    protocol = editor.client.protocol
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    protocol._request_futures[msg_id] = future
    protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return asyncio.wrap_future(future)


def job_pool_size() -> int:
    """How many job threads the server's worker process may start."""
    from code_evolver.worker.process import JOB_THREADS

    return JOB_THREADS
