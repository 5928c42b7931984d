"""A real HTTP server on 127.0.0.1 that speaks Ollama's native API and fails on demand."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import select
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FAIL_MODES",
    "FakeOllama",
    "FakeOllamaPool",
    "RecordedRequest",
    "start_fakes",
]

GENERATION_PATHS = ("/api/generate", "/api/chat", "/v1/chat/completions", "/v1/completions")
OPENAI_KINDS = {"/v1/chat/completions": "openai_chat", "/v1/completions": "openai_text"}
SSE = "text/event-stream"
NDJSON = "application/x-ndjson"
JSON_TYPE = "application/json; charset=utf-8"

#: Modes accepted by :meth:`FakeOllama.fail`.
FAIL_MODES = (
    "refuse",
    "hang",
    "slow_accept",
    "status",
    "break",
    "error_line",
    "garbage",
    "drip",
    "huge",
    "idle",
)
# Modes that act inside a generation (they need a model and a reply); they only ever hit
# /api/generate and /api/chat, whatever `paths` says.
_MIDSTREAM_MODES = ("break", "error_line", "idle", "huge")

STATUS_BODIES: dict[int, str] = {
    400: "invalid options: foo",
    404: 'model "{model}" not found, try pulling it first',
    499: "request canceled",
    500: "llama runner process has terminated: signal: killed",
    503: "server busy, please try again.  maximum pending requests exceeded",
}
STREAM_ERROR = "an error was encountered while running the model: unexpected EOF"
GARBAGE_HTML = (
    "<html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n"
)
_POLL = 0.05  # how often blocked handlers look at stop / release / client state


@dataclass
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    body: Any  # parsed JSON, or None (GET, empty or unparsable body)
    headers: dict[str, str]
    connection: int  # 1-based id of the TCP connection it came on
    time: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    mode: str
    kw: dict[str, Any]
    remaining: int | None  # None = until cleared
    paths: tuple[str, ...] | None  # None = every path
    release: threading.Event = field(default_factory=threading.Event)


def _normal_model(name: str) -> str:
    return name if ":" in name else f"{name}:latest"


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, fake: FakeOllama, port: int) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can be slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Runs on the accept thread: register the socket before its handler thread starts, so
        # that closing "all connections" can never miss a just-accepted one.
        conn_id = self.fake._on_accept(request)
        t = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"fake-ollama-{self.fake.port}-conn{conn_id}",
            daemon=True,
        )
        self.fake._track_thread(t)
        t.start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # client went away, or stop() closed the socket
            return
        text = traceback.format_exc()
        self.fake.errors.append(text)
        sys.stderr.write(f"fake_ollama handler error:\n{text}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    # -- plumbing -------------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        # Without this, every small reply waits ~40 ms for the client's delayed ACK.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.fake = self.server.fake
        self.conn_id = self.fake._conn_id(self.connection)
        self._gone_counted = False
        delay, release = self.fake._take_slow_accept()
        if delay:
            # Do not even read the request line until the delay has passed (or fail(None)).
            end = time.monotonic() + delay
            while not (self.fake._stopping.is_set() or release.is_set()):
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.fake._stopping.wait(min(left, _POLL))

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.fake._on_close(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        return "FakeOllama"

    def _peer_gone(self) -> bool:
        """True if the client closed (or reset) its side of the connection."""
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        if not readable:
            return False
        try:
            data = sock.recv(1, socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0))
        except BlockingIOError:
            return False
        except OSError:
            return True
        return data == b""

    def _client_gone(self) -> None:
        self.close_connection = True
        if self._gone_counted or self.fake._stopping.is_set():
            return
        if self.fake._was_killed(self.connection):
            return
        self._gone_counted = True
        self.fake._count_disconnect()

    def _wait(self, seconds: float, release: threading.Event | None = None) -> str:
        """Sleep watching the client: 'ok', 'gone', 'stop' or 'released'."""
        end = time.monotonic() + max(0.0, seconds)
        while True:
            if self.fake._stopping.is_set():
                self.close_connection = True
                return "stop"
            if release is not None and release.is_set():
                return "released"
            if self._peer_gone():
                self._client_gone()
                return "gone"
            left = end - time.monotonic()
            if left <= 0:
                return "ok"
            self.fake._stopping.wait(min(left, _POLL))

    def _send(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            return True
        except OSError:
            self._client_gone()
            return False

    def _chunk(self, data: bytes) -> bool:
        return self._send(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_chunks(self) -> bool:
        return self._send(b"0\r\n\r\n")

    def _begin(
        self, code: int, ctype: str, length: int | None = None, extra: dict[str, str] | None = None
    ) -> bool:
        """Send status and headers; length None means chunked transfer encoding."""
        try:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            if length is None:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(length))
            if self.fake.name:
                self.send_header("X-Fake-Ollama", self.fake.name)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            return True
        except OSError:
            self._client_gone()
            return False

    def _whole(
        self, code: int, data: bytes, ctype: str = JSON_TYPE, extra: dict[str, str] | None = None
    ) -> None:
        if self._begin(code, ctype, len(data), extra) and self.command != "HEAD":
            self._send(data)

    def _error(self, code: int, message: str, kind: str = "") -> None:
        if kind.startswith("openai"):
            error = {
                "message": message,
                "type": "invalid_request_error",
                "code": "model_not_found" if code == 404 else None,
            }
            self._whole(code, _dumps({"error": error}))
            return
        self._whole(code, _dumps({"error": message}))

    def _abort(self) -> None:
        """Drop the connection on the floor, mid-response."""
        self.close_connection = True
        self.fake._mark_killed(self.connection)
        with contextlib.suppress(OSError):
            self.wfile.flush()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- request entry points -------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch(None)

    def do_HEAD(self) -> None:
        self._dispatch(None)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._error(400, "invalid Content-Length")
            return
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self._dispatch(body, raw)

    def _dispatch(self, body: Any, raw: bytes = b"") -> None:
        self._gone_counted = False
        path = self.path.split("?", 1)[0]
        self.fake._record(
            RecordedRequest(
                method=self.command,
                path=path,
                body=body,
                headers=dict(self.headers.items()),
                connection=self.conn_id,
            )
        )
        failure = self.fake._take_failure(path)
        mode = failure.mode if failure else None
        if failure is not None and mode in ("status", "garbage", "hang", "drip"):
            if mode == "hang":
                if self._wait(math.inf, failure.release) != "released":
                    return
                failure = mode = None  # fail(None) freed us: answer normally
            else:
                self._pre_failure(failure, body)
                return
        if self.command == "POST" and path in GENERATION_PATHS:
            self._generation(path, body, raw, failure)
        elif self.command in ("GET", "HEAD"):
            self._get(path)
        else:
            self._whole(404, b"404 page not found", "text/plain")

    def _get(self, path: str) -> None:
        fake = self.fake
        if path == "/":
            self._whole(200, b"Ollama is running", "text/plain; charset=utf-8")
        elif path == "/api/version":
            self._whole(200, _dumps({"version": fake.version}))
        elif path == "/v1/models":
            data = [{"id": m, "object": "model", "owned_by": "fake"} for m in fake.models]
            self._whole(200, _dumps({"object": "list", "data": data}))
        elif path == "/api/tags":
            self._whole(200, _dumps({"models": [fake._model_info(m) for m in fake.models]}))
        elif path == "/api/ps":
            with fake._lock:
                loaded = sorted(fake._loaded)
            infos = []
            for m in loaded:
                info = fake._model_info(m)
                info.pop("modified_at", None)
                info["expires_at"] = "2099-01-01T00:00:00Z"
                info["size_vram"] = info["size"]
                infos.append(info)
            self._whole(200, _dumps({"models": infos}))
        else:
            self._whole(404, b"404 page not found", "text/plain")

    # -- failures that answer before any generation ---------------------------------------------
    def _pre_failure(self, failure: _Failure, body: Any) -> None:
        kw = failure.kw
        if failure.mode == "status":
            code = int(kw.get("code", 500))
            override = kw.get("body")
            if override is None:
                model = body.get("model", "") if isinstance(body, dict) else ""
                template = STATUS_BODIES.get(code, f"fake failure {code}")
                data = _dumps({"error": template.replace("{model}", str(model))})
            elif isinstance(override, (bytes, str)):
                data = override.encode() if isinstance(override, str) else override
            else:
                data = _dumps(override)
            self._whole(code, data, extra=kw.get("headers"))
        elif failure.mode == "garbage":
            data = kw.get("body", GARBAGE_HTML)
            data = data.encode() if isinstance(data, str) else data
            ctype = kw.get("content_type", "text/html")
            self._whole(int(kw.get("code", 200)), data, ctype)
        elif failure.mode == "drip":
            interval = float(kw.get("interval", 0.2))
            byte = kw.get("byte", b" ")
            byte = byte.encode() if isinstance(byte, str) else byte
            if not self._begin(200, NDJSON):
                return
            while True:
                outcome = self._wait(interval, failure.release)
                if outcome == "released":
                    self._abort()
                    return
                if outcome != "ok" or not self._chunk(byte):
                    return

    # -- generation ----------------------------------------------------------------------------
    def _generation(self, path: str, body: Any, raw: bytes, failure: _Failure | None) -> None:
        fake = self.fake
        kind = OPENAI_KINDS.get(path) or ("chat" if path == "/api/chat" else "generate")
        if not isinstance(body, dict):
            self._error(400, "invalid character in request body" if raw else "missing request body")
            return
        model = body.get("model")
        if not isinstance(model, str) or not model:
            self._error(400, "model is required")
            return
        if _normal_model(model) not in {_normal_model(m) for m in fake.models}:
            self._error(404, f'model "{model}" not found, try pulling it first', kind)
            return
        if kind in ("chat", "openai_chat") and not isinstance(body.get("messages", []), list):
            self._error(400, "messages must be a list")
            return
        stream = body.get("stream") is not False
        sem = self._acquire_slot()
        if sem is False:
            return
        try:
            if not self._load_model(model) or self._wait(fake.latency) != "ok":
                return
            with fake._lock:
                fake._loaded.add(_normal_model(model))
            mode = failure.mode if failure else None
            if failure is not None and mode == "huge":
                self._huge(kind, model, stream, failure)
                return
            # A failing request never uses up a scripted reply: the retry gets the same text.
            text = fake._next_reply(body, consume=mode is None)
            pieces = fake._split(text)
            reason = "stop"
            options = body.get("options") if isinstance(body.get("options"), dict) else {}
            limit = options.get("num_predict")
            if isinstance(limit, int) and 0 <= limit < len(pieces):
                pieces, reason = pieces[:limit], "length"
            final = self._final(kind, model, body, pieces, reason)
            if stream:
                self._stream(kind, model, pieces, final, failure)
            else:
                self._single(kind, model, pieces, final, failure)
        finally:
            with fake._lock:
                fake._active -= 1
            if sem is not None:
                sem.release()

    def _load_model(self, model: str) -> bool:
        """Pay ``cold_load`` seconds once per model not loaded (requests meanwhile wait with
        it, as Ollama's do); False if the client went away."""
        fake = self.fake
        name = _normal_model(model)
        with fake._lock:
            if fake.cold_load <= 0 or name in fake._loaded:
                return True
            ready_at = fake._loading.setdefault(name, time.monotonic() + fake.cold_load)
        if self._wait(ready_at - time.monotonic()) != "ok":
            return False
        with fake._lock:
            fake._loaded.add(name)
            fake._loading.pop(name, None)
        return True

    def _acquire_slot(self) -> threading.Semaphore | bool | None:
        """Wait for a generation slot; the semaphore taken, None if unlimited, False if gone."""
        fake = self.fake
        with fake._lock:
            fake._queued += 1
        try:
            while True:
                sem = fake._sem
                if sem is None or sem.acquire(timeout=_POLL):
                    break
                if fake._stopping.is_set():
                    self.close_connection = True
                    return False
                if self._peer_gone():
                    self._client_gone()
                    return False
        finally:
            with fake._lock:
                fake._queued -= 1
        with fake._lock:
            fake._active += 1
            fake.peak_active = max(fake.peak_active, fake._active)
        return sem

    def _final(
        self, kind: str, model: str, body: dict[str, Any], pieces: list[str], reason: str
    ) -> dict[str, Any]:
        prompt = body.get("prompt", "") if kind == "generate" else json.dumps(body.get("messages"))
        extra: dict[str, Any] = {"done_reason": reason}
        if kind == "generate":
            extra["context"] = [1, 2, 3]
        n_prompt = len(str(prompt)) // 4 + 1
        extra.update(
            total_duration=(n_prompt + len(pieces)) * 1_000_000 + 2_000_000,
            load_duration=2_000_000,
            prompt_eval_count=n_prompt,
            prompt_eval_duration=n_prompt * 500_000,
            eval_count=len(pieces),
            eval_duration=len(pieces) * 1_000_000,
        )
        return extra

    def _line(self, kind: str, model: str, text: str, done: bool, **extra: Any) -> bytes:
        """One stream line: NDJSON for Ollama, `data:` events (and [DONE]) for OpenAI."""
        if not kind.startswith("openai"):
            return _dumps(self._obj(kind, model, text, done, **extra)) + b"\n"
        event = self._obj(kind, model, text, done, **extra)
        line = b"data: " + _dumps(event) + b"\n\n"
        return line + b"data: [DONE]\n\n" if done else line

    @staticmethod
    def _obj(kind: str, model: str, text: str, done: bool, **extra: Any) -> dict[str, Any]:
        if kind.startswith("openai"):
            reason = extra.get("done_reason", "stop") if done else None
            if kind == "openai_chat":
                choice: dict[str, Any] = {
                    "index": 0,
                    "delta": {"content": text} if text else {},
                    "finish_reason": reason,
                }
            else:
                choice = {"index": 0, "text": text, "finish_reason": reason}
            return {
                "id": "cmpl-fake",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [choice],
            }
        obj: dict[str, Any] = {"model": model, "created_at": _now()}
        if kind == "chat":
            obj["message"] = {"role": "assistant", "content": text}
        else:
            obj["response"] = text
        obj["done"] = done
        obj.update(extra)
        return obj

    def _stream(
        self,
        kind: str,
        model: str,
        pieces: list[str],
        final: dict[str, Any],
        failure: _Failure | None,
    ) -> None:
        mode = failure.mode if failure else None
        after = int(failure.kw.get("after", 2)) if failure else 0
        if not self._begin(200, SSE if kind.startswith("openai") else NDJSON):
            return
        for i, piece in enumerate(pieces):
            if mode == "break" and i >= after:
                self._abort()
                return
            if mode == "error_line" and i >= after:
                break
            if self._wait(self.fake.chunk_delay if i else 0.0) != "ok":
                return
            if not self._chunk(self._line(kind, model, piece, False)):
                return
            if failure is not None and mode == "idle" and i == 0:
                if self._wait(math.inf, failure.release) != "released":
                    return
                mode = None
        if failure is not None and mode == "idle":  # empty reply: go silent after the headers
            if self._wait(math.inf, failure.release) != "released":
                return
            mode = None
        if mode == "break":
            self._abort()
            return
        if mode == "error_line":
            error = str(failure.kw.get("error", STREAM_ERROR)) if failure else STREAM_ERROR
            line = (
                (
                    b"data: "
                    + _dumps({"error": {"message": error, "type": "server_error"}})
                    + b"\n\n"
                )
                if kind.startswith("openai")
                else _dumps({"error": error}) + b"\n"
            )
            if self._chunk(line):
                self._end_chunks()
            return
        if self._wait(0.0) != "ok":
            return
        if self._chunk(self._line(kind, model, "", True, **final)):
            self._end_chunks()

    def _single(
        self,
        kind: str,
        model: str,
        pieces: list[str],
        final: dict[str, Any],
        failure: _Failure | None,
    ) -> None:
        mode = failure.mode if failure else None
        if mode == "break":
            self._abort()
            return
        if failure is not None and mode == "error_line":
            self._error(500, str(failure.kw.get("error", STREAM_ERROR)))
            return
        data = _dumps(self._obj(kind, model, "".join(pieces), True, **final))
        if failure is not None and mode == "idle":
            half = len(data) // 2
            if not (self._begin(200, JSON_TYPE, len(data)) and self._send(data[:half])):
                return
            if self._wait(math.inf, failure.release) == "released":
                self._send(data[half:])
            return
        self._whole(200, data)

    def _huge(self, kind: str, model: str, stream: bool, failure: _Failure) -> None:
        size = int(failure.kw.get("size", 2 * 1024**3))
        if stream:
            line = _dumps(self._obj(kind, model, "x" * 64, False)) + b"\n"
            block = line * max(1, 65536 // len(line))
            if not self._begin(200, NDJSON):
                return
            sent = 0
            while sent < size:
                if self._wait(0.0) != "ok" or not self._chunk(block):
                    return
                sent += len(block)
            done = self._obj(kind, model, "", True, done_reason="length")
            if self._chunk(_dumps(done) + b"\n"):
                self._end_chunks()
            return
        head = _dumps(self._obj(kind, model, "", True, done_reason="length"))
        field_name = b'"content":"' if kind == "chat" else b'"response":"'
        prefix, suffix = head.split(field_name, 1)
        prefix += field_name
        fill = max(0, size - len(prefix) - len(suffix))
        if not self._begin(200, JSON_TYPE, len(prefix) + fill + len(suffix)):
            return
        if not self._send(prefix):
            return
        block = b"x" * 65536
        while fill > 0:
            if self._wait(0.0) != "ok" or not self._send(block[:fill]):
                return
            fill -= min(fill, len(block))
        self._send(suffix)


class FakeOllama:
    """An in-process Ollama look-alike on 127.0.0.1:<ephemeral port>.

    Use as ``with FakeOllama() as fake:`` or call :meth:`start` / :meth:`stop`. Tune it while it
    runs through the public attributes (``replies``, ``reply_fn``, ``latency``, ``chunk_delay``,
    ``chunk_size``, ``max_concurrent``, ``models``) and :meth:`fail`.

    Like Ollama: ``max_concurrent`` is its ``OLLAMA_NUM_PARALLEL`` (requests beyond it wait
    inside the server); ``loaded`` is what ``/api/ps`` lists (a model answers a request only
    once loaded, and a request loads it); ``cold_load`` is the seconds a request waits for a
    model that is not loaded (0, the default, loads at once).
    """

    def __init__(
        self,
        models: tuple[str, ...] | list[str] = ("codellama:latest", "llama3:latest"),
        name: str | None = None,
        reply: str = "print('hello')",
        *,
        port: int = 0,
    ) -> None:
        self.models: list[str] = list(models)
        self.name = name
        self.reply = reply
        self.replies: list[str] = []
        self.reply_fn: Callable[[dict[str, Any]], str] | None = None
        self.latency = 0.0
        self.chunk_delay = 0.0
        self.chunk_size = 4
        self.version = "0.5.7"
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # unexpected handler exceptions (bugs in the fake)
        self.connections = 0
        self.disconnects = 0
        self.peak_active = 0
        self._active = 0
        self._queued = 0
        self._max_concurrent: int | None = None
        self._sem: threading.Semaphore | None = None
        self._lock = threading.RLock()  # short critical sections on shared state
        self._life = threading.RLock()  # start / stop / opening and closing the listener
        self._stopping = threading.Event()
        self._failure: _Failure | None = None
        # Failures used up by `times` whose requests may still be held (hang, idle, drip).
        self._spent: list[_Failure] = []
        self._server: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []
        self._conns: dict[socket.socket, int] = {}
        self._killed: set[socket.socket] = set()
        self._loaded: set[str] = set()
        self._loading: dict[str, float] = {}  # model -> when its cold load ends
        self.cold_load = 0.0
        self._started = False

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeOllama:
        with self._life:
            if self._started:
                return self
            self._stopping.clear()
            self._started = True
            self._open_listener()
            if self._failure is not None and self._failure.mode == "refuse":
                self._close_listener()
        return self

    def stop(self) -> None:
        """Close the listener and every client socket; join threads (returns within ~2 s)."""
        with self._life:
            if not self._started:
                return
            self._started = False
            self._stopping.set()
            with self._lock:
                if self._failure is not None:
                    self._failure.release.set()
            self._close_listener()
            self._kill_connections()
            with self._lock:
                threads = list(self._threads)
                self._threads.clear()
        deadline = time.monotonic() + 1.5
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FakeOllama(name={self.name!r}, url={self.url!r})"

    def _open_listener(self) -> None:
        # Re-binding the port we had before (after "refuse") relies on SO_REUSEADDR
        # (allow_reuse_address), which lets bind() succeed while old connections sit in
        # TIME_WAIT. Retry briefly in case the kernel is still releasing the port.
        last: OSError | None = None
        for _ in range(20):
            try:
                server = _Server(self, self.port)
                break
            except OSError as exc:
                last = exc
                time.sleep(0.05)
        else:
            raise RuntimeError(f"fake ollama could not bind 127.0.0.1:{self.port}: {last}")
        self.port = server.server_address[1]
        self._server = server
        self._serve_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL},
            name=f"fake-ollama-{self.port}-accept",
            daemon=True,
        )
        self._serve_thread.start()

    def _close_listener(self) -> None:
        server, thread = self._server, self._serve_thread
        self._server = self._serve_thread = None
        if server is None:
            return
        server.shutdown()  # stops the accept loop (returns within poll_interval)
        server.server_close()  # closes the listening socket: new connects are refused
        if thread is not None:
            thread.join(1.0)

    def _kill_connections(self) -> None:
        with self._lock:
            socks = list(self._conns)
            self._killed.update(socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # -- failure control -----------------------------------------------------------------------
    def fail(
        self,
        mode: str | None,
        *,
        times: int | None = None,
        paths: str | tuple[str, ...] | list[str] | None = GENERATION_PATHS,
        **kw: Any,
    ) -> None:
        """Switch failure ``mode`` on (see FAIL_MODES) or off with ``fail(None)``.

        ``times=N`` limits it to the next N matching requests (for slow_accept: connections).
        ``paths`` are the request paths it hits: default generate and chat, ``"*"`` for all.
        Every call releases requests held by the previous failure (hang, idle, drip).
        """
        if mode is not None and mode not in FAIL_MODES:
            raise ValueError(f"unknown fail mode {mode!r}; expected one of {FAIL_MODES}")
        if mode == "refuse" and times is not None:
            raise ValueError("'refuse' cannot count requests; clear it with fail(None)")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1")
        path_set: tuple[str, ...] | None
        if paths is None or paths == "*":
            path_set = None
        elif isinstance(paths, str):
            path_set = (paths,)
        else:
            path_set = tuple(paths)
        # The listener is opened/closed under _life only: the accept thread needs _lock to
        # register connections, so holding _lock while shutting the accept loop would deadlock.
        with self._life:
            with self._lock:
                old = self._failure
                for held in [*self._spent, *([old] if old is not None else [])]:
                    held.release.set()
                self._spent.clear()
                was_refusing = old is not None and old.mode == "refuse"
                self._failure = None if mode is None else _Failure(mode, dict(kw), times, path_set)
            if not self._started:
                return
            if mode == "refuse" and not was_refusing:
                # Like a dead process: no listener, and existing connections are dropped.
                self._close_listener()
                self._kill_connections()
            elif was_refusing and mode != "refuse":
                self._open_listener()  # same port as before

    def _take_failure(self, path: str) -> _Failure | None:
        with self._lock:
            f = self._failure
            if f is None or f.mode in ("refuse", "slow_accept"):
                return None
            if f.mode in _MIDSTREAM_MODES and path not in GENERATION_PATHS:
                return None
            if f.paths is not None and path not in f.paths:
                return None
            self._consume(f)
            return f

    def _take_slow_accept(self) -> tuple[float, threading.Event]:
        with self._lock:
            f = self._failure
            if f is None or f.mode != "slow_accept":
                return 0.0, threading.Event()
            self._consume(f)
            return float(f.kw.get("delay", 1.0)), f.release

    def _consume(self, f: _Failure) -> None:
        if f.remaining is not None:
            f.remaining -= 1
            if f.remaining <= 0 and self._failure is f:
                self._failure = None  # back to normal; requests already failing keep failing
                self._spent.append(f)  # until the next fail() call releases them

    # -- knobs ---------------------------------------------------------------------------------
    @property
    def max_concurrent(self) -> int | None:
        return self._max_concurrent

    @max_concurrent.setter
    def max_concurrent(self, value: int | None) -> None:
        if value is not None and value < 1:
            raise ValueError("max_concurrent must be >= 1 or None")
        with self._lock:
            self._max_concurrent = value
            self._sem = None if value is None else threading.Semaphore(value)

    @property
    def loaded(self) -> list[str]:
        """Models in memory, as ``/api/ps`` lists them."""
        with self._lock:
            return sorted(self._loaded)

    @loaded.setter
    def loaded(self, models: list[str] | tuple[str, ...]) -> None:
        with self._lock:
            self._loaded = {_normal_model(m) for m in models}

    def _next_reply(self, body: dict[str, Any], consume: bool = True) -> str:
        fn = self.reply_fn
        if fn is not None:
            return str(fn(body))
        with self._lock:
            if self.replies:
                return self.replies.pop(0) if consume else self.replies[0]
            return self.reply

    def _split(self, text: str) -> list[str]:
        n = max(1, int(self.chunk_size))
        return [text[i : i + n] for i in range(0, len(text), n)]

    def _model_info(self, name: str) -> dict[str, Any]:
        full = _normal_model(name)
        digest = f"{abs(hash(full)) % (1 << 64):016x}" * 4
        return {
            "name": full,
            "model": full,
            "modified_at": "2025-01-01T00:00:00.000000000Z",
            "size": 3_825_819_519,
            "digest": digest,
            "details": {
                "format": "gguf",
                "family": full.split(":", 1)[0],
                "parameter_size": "7B",
                "quantization_level": "Q4_0",
            },
        }

    # -- bookkeeping ---------------------------------------------------------------------------
    def _on_accept(self, sock: socket.socket) -> int:
        with self._lock:
            self.connections += 1
            self._conns[sock] = self.connections
            return self.connections

    def _conn_id(self, sock: socket.socket) -> int:
        with self._lock:
            return self._conns.get(sock, 0)

    def _on_close(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.pop(sock, None)
            self._killed.discard(sock)

    def _mark_killed(self, sock: socket.socket) -> None:
        with self._lock:
            self._killed.add(sock)

    def _was_killed(self, sock: socket.socket) -> bool:
        with self._lock:
            return sock in self._killed

    def _track_thread(self, t: threading.Thread) -> None:
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)

    def _record(self, rec: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(rec)

    def _count_disconnect(self) -> None:
        with self._lock:
            self.disconnects += 1

    @property
    def generate_count(self) -> int:
        """Number of /api/generate and /api/chat requests received."""
        with self._lock:
            return sum(1 for r in self.requests if r.path in GENERATION_PATHS)

    @property
    def active(self) -> int:
        """Generations in flight (holding a slot: latency, streaming)."""
        with self._lock:
            return self._active

    @property
    def queued(self) -> int:
        """Generations waiting for a slot because of ``max_concurrent``."""
        with self._lock:
            return self._queued

    def wait_for(
        self, predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.01
    ) -> bool:
        """Poll ``predicate`` until it is truthy; False if ``timeout`` passed first."""
        end = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(interval)


class FakeOllamaPool:
    """Several fakes named ``{prefix}0``, ``{prefix}1``, ...; a context manager."""

    def __init__(self, n: int, prefix: str = "fake", **kw: Any) -> None:
        self.fakes = [FakeOllama(name=f"{prefix}{i}", **kw) for i in range(n)]

    @property
    def urls(self) -> list[str]:
        return [f.url for f in self.fakes]

    def start(self) -> FakeOllamaPool:
        for f in self.fakes:
            f.start()
        return self

    def stop(self) -> None:
        for f in self.fakes:
            f.stop()

    def __enter__(self) -> FakeOllamaPool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __iter__(self) -> Iterator[FakeOllama]:
        return iter(self.fakes)

    def __getitem__(self, i: int) -> FakeOllama:
        return self.fakes[i]

    def __len__(self) -> int:
        return len(self.fakes)


def start_fakes(n: int, **kw: Any) -> list[FakeOllama]:
    """Start ``n`` fakes (names fake0..fake{n-1}); the caller stops them."""
    return FakeOllamaPool(n, **kw).start().fakes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=11435)
    parser.add_argument("--reply", default="print('hello')")
    parser.add_argument("--models", default="codellama:latest,llama3:latest")
    parser.add_argument("--name", default=None)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    parser.add_argument("--max-concurrent", type=int, default=None)
    parser.add_argument("--fail", choices=FAIL_MODES, default=None)
    parser.add_argument("--code", type=int, default=500, help="status code for --fail status")
    args = parser.parse_args(argv)
    fake = FakeOllama(
        models=[m.strip() for m in args.models.split(",") if m.strip()],
        name=args.name,
        reply=args.reply,
        port=args.port,
    )
    fake.latency = args.latency
    fake.chunk_delay = args.chunk_delay
    fake.max_concurrent = args.max_concurrent
    fake.start()
    if args.fail:
        fake.fail(args.fail, **({"code": args.code} if args.fail == "status" else {}))
    print(f"fake ollama serving on {fake.url} (Ctrl-C to stop)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
