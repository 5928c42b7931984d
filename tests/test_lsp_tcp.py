"""`code-evolver lsp --tcp`: real sockets on 127.0.0.1; each connection is a session of its own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import role_config
from processes import alive, children_of

STUB = 'def median(values):\n    """The middle value of a sorted copy of values."""\n    pass\n'
WAIT = 30.0  # seconds a socket read may block before the test fails


class Client:
    """A bare JSON-RPC client on one TCP connection, reading with a blocking socket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buffer = b""
        self.next_id = 0
        self.asked: list[int] = []  # ids of this client's requests
        self.answered: list[int] = []  # ids of the answers that came on this socket

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        self.asked.append(self.next_id)
        self.send({"id": self.next_id, "method": method, "params": params})
        return self.answer(self.next_id)

    def answer(self, msg_id: int) -> Any:
        while True:
            message = self.read()
            if message.get("id") == msg_id and "method" not in message:
                assert "error" not in message, message
                return message.get("result")
            if "id" in message and "method" in message:  # the server asks (progress, config)
                self.send({"id": message["id"], "result": None})

    def read(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        header, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
        while len(rest) < length:
            self.buffer = header + b"\r\n\r\n" + rest
            self._fill()
            header, _, rest = self.buffer.partition(b"\r\n\r\n")
        self.buffer = rest[length:]
        message: dict[str, Any] = json.loads(rest[:length])
        if "id" in message and "method" not in message:
            self.answered.append(message["id"])
        return message

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def open(self, root: Path, name: str, text: str) -> str:
        """initialize + initialized + didOpen; returns the document's URI."""
        root.mkdir(exist_ok=True)
        self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": root.as_uri(),
                "capabilities": {},
                "initializationOptions": {"workspaceTrusted": False},
            },
        )
        self.notify("initialized", {})
        uri = (root / name).as_uri()
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
        )
        return uri

    def titles(self, uri: str, line: int) -> list[str]:
        here = {"line": line, "character": 4}
        actions = self.request(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": uri},
                "range": {"start": here, "end": here},
                "context": {"diagnostics": []},
            },
        )
        return [action["title"] for action in actions or []]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def wait_until(predicate: Any) -> bool:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def workers(pid: int) -> set[int]:
    return {child for child in children_of(pid) if alive(child)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def tcp_server(fake, write_config, tmp_path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    urls = [fake.url]
    config = write_config(role_config({"generator": urls, "overseer": urls, "evaluator": urls}))
    port = free_port()
    stderr = (tmp_path / "server.stderr").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "code_evolver",
            "lsp",
            "--config",
            str(config),
            "--tcp",
            f"127.0.0.1:{port}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )
    try:

        def listening() -> bool:  # each try is itself a port probe
            assert process.poll() is None, (tmp_path / "server.stderr").read_text()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                return True
            return False

        assert wait_until(listening), "the server never listened"
        yield process, port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        stderr.close()


@pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX process groups")
def test_port_probes_change_nothing(tcp_server, tmp_path):
    process, port = tcp_server
    for _ in range(3):  # what `nc -z`, a health check or an editor's "is it up?" does
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT):
            pass
    half = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    half.sendall(b"Content-Length: 40\r\n\r\n{")  # and one that hangs up mid-message
    half.close()
    client = Client(port)
    try:
        uri = client.open(tmp_path / "ws", "stats.py", STUB)
        assert client.titles(uri, 0) == ["Generate median() with codellama"]
        assert process.poll() is None
        said = (tmp_path / "server.stderr").read_text()
        assert f"code-evolver: listening on 127.0.0.1:{port}" in said, said
    finally:
        client.close()


@pytest.mark.skipif(sys.platform == "win32", reason="uses POSIX process groups")
def test_each_connection_is_a_session_of_its_own(tcp_server, fake, tmp_path):
    process, port = tcp_server
    first, second = Client(port), Client(port)
    try:
        uri_a = first.open(tmp_path / "a", "stats.py", STUB)
        assert wait_until(lambda: len(workers(process.pid)) == 1)
        first_worker = workers(process.pid)
        uri_b = second.open(tmp_path / "b", "other.py", "x = 1\n")
        assert wait_until(lambda: len(workers(process.pid)) == 2)  # a worker per session
        # Each answer comes back on the connection that asked, never on the other one.
        assert first.titles(uri_a, 0) == ["Generate median() with codellama"]
        assert second.titles(uri_b, 0) == []
        # Documents belong to their session: the second editor never opened stats.py.
        assert second.titles(uri_a, 0) == []
        assert first.titles(uri_a, 0) == ["Generate median() with codellama"]
        status = first.request(
            "workspace/executeCommand", {"command": "codeEvolver.showStatus", "arguments": []}
        )
        assert fake.url in status["text"], status  # the --config given on the command line
        # The first editor leaves as editors do: shutdown, then exit.
        assert first.request("shutdown", None) is None
        first.notify("exit", None)
        with pytest.raises(ConnectionError):
            while True:
                first.read()
        assert wait_until(lambda: not (first_worker & workers(process.pid))), (
            "the ended session's worker still runs"
        )
        # The other session and the listener go on.
        assert second.titles(uri_b, 0) == []
        assert len(workers(process.pid)) == 1
        third = Client(port)
        try:
            uri_c = third.open(tmp_path / "c", "stats.py", STUB)
            assert third.titles(uri_c, 0) == ["Generate median() with codellama"]
        finally:
            third.close()
        assert process.poll() is None
        assert first.answered == first.asked and second.answered == second.asked
    finally:
        first.close()
        second.close()
