"""The editor vanishing mid-work: the server exits cleanly and its children die with it.

The language server runs work in a worker process (code_evolver.worker.process); the user's
program is the worker's child. However the server ends, neither may outlive it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from conftest import role_config
from processes import alive, descendants_of, running, worker_of


def _send(proc: subprocess.Popen[bytes], message: dict) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    assert proc.stdin is not None
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    proc.stdin.flush()


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


@contextlib.contextmanager
def _fixing_a_program_that_spins(
    tmp_path: Path, config: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A server (raw stdio, no client library) whose fix is running a program that never ends;
    yields the server process and the program's pid. Everything is killed afterwards."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    pid_file = tmp_path / "child.pid"
    source = (
        f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\nwhile True:\n    pass\n"
    )
    script = workspace / "spin.py"
    script.write_text(source)
    proc = subprocess.Popen(
        [sys.executable, "-m", "code_evolver", "lsp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    child = None
    try:
        _send(
            proc,
            {
                "id": 1,
                "method": "initialize",
                "params": {
                    "processId": None,
                    "rootUri": workspace.as_uri(),
                    "capabilities": {},
                    "initializationOptions": {
                        "configPath": str(config),
                        "overrides": {"fix": {"run_timeout": 120}},
                    },
                },
            },
        )
        _send(proc, {"method": "initialized", "params": {}})
        _send(
            proc,
            {
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {
                        "uri": script.as_uri(),
                        "languageId": "python",
                        "version": 1,
                        "text": source,
                    }
                },
            },
        )
        _send(
            proc,
            {
                "id": 2,
                "method": "workspace/executeCommand",
                "params": {
                    "command": "codeEvolver.fixDiagnostics",
                    "arguments": [{"uri": script.as_uri()}],
                },
            },
        )
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        # The pid the program wrote is its pid in the run's PID namespace: find it by its
        # command line instead.
        found = running(str(script))
        assert found, "the program is not running"
        child = found[0]
        yield proc, child
    finally:
        worker = worker_of(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in (worker, child):
            if pid is not None and alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_stdin_closed_mid_work_kills_children_and_exits(tmp_path: Path, fake, write_config):
    config = write_config(role_config({"generator": [fake.url]}))
    with _fixing_a_program_that_spins(tmp_path, config) as (proc, child):
        assert proc.stdin is not None
        proc.stdin.close()  # the editor is gone
        assert proc.wait(timeout=30) == 0
        assert _gone(child, 10)


def test_a_killed_server_takes_its_worker_and_the_program_with_it(
    tmp_path: Path, fake, write_config
):
    config = write_config(role_config({"generator": [fake.url]}))
    with _fixing_a_program_that_spins(tmp_path, config) as (proc, child):
        worker = worker_of(proc.pid)
        assert worker is not None and child in descendants_of(worker)
        proc.kill()  # no shutdown, no cleanup: only the closed pipe tells the worker
        proc.wait()
        assert _gone(worker, 20), "the worker outlived the language server"
        assert _gone(child, 10), "the user's program outlived the language server"
