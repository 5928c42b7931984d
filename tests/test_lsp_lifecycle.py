"""The editor vanishing mid-work: the server exits cleanly and its children die with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import role_config


def _send(proc: subprocess.Popen[bytes], message: dict) -> None:
    body = json.dumps(message).encode()
    assert proc.stdin is not None
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    proc.stdin.flush()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its parent is gone for our purposes
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return False


def test_stdin_closed_mid_work_kills_children_and_exits(tmp_path: Path, fake, write_config):
    config = write_config(role_config({"generator": [fake.url]}))
    workspace = tmp_path / "ws"
    workspace.mkdir()
    pid_file = tmp_path / "child.pid"
    source = (f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
              "while True:\n    pass\n")
    script = workspace / "spin.py"
    script.write_text(source)
    proc = subprocess.Popen([sys.executable, "-m", "code_evolver", "lsp"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "processId": None, "rootUri": workspace.as_uri(), "capabilities": {},
            "initializationOptions": {"configPath": str(config),
                                      "overrides": {"fix": {"run_timeout": 120}}}}})
        _send(proc, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        _send(proc, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": script.as_uri(), "languageId": "python", "version": 1,
                             "text": source}}})
        _send(proc, {"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand",
                     "params": {"command": "codeEvolver.fixDiagnostics",
                                "arguments": [{"uri": script.as_uri()}]}})
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert _alive(child)
        assert proc.stdin is not None
        proc.stdin.close()  # the editor is gone
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
