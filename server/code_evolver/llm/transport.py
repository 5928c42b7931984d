"""HTTP for model requests: kept-alive connections, phase timeouts, cancellation by closing."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from ..cancel import Cancelled, CancelToken
from ..config import Timeouts
from .connections import DEADLINES, Tracker, active, new_session
from .errors import (
    EndpointTimeout,
    EndpointUnreachable,
    HTTPStatusError,
    LLMError,
    MalformedReply,
    OutputTooLarge,
    StreamError,
)

_DRAIN_LIMIT = 64 * 1024


@dataclass(frozen=True)
class _Template:
    request: requests.PreparedRequest
    adapter: requests.adapters.BaseAdapter


@dataclass(frozen=True)
class StreamLimits:
    timeouts: Timeouts
    max_bytes: int


def _error_text(body: bytes, headers: Mapping[str, str]) -> str:
    """The server's error message: one line, at most 300 characters, our credentials masked."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):  # OpenAI style
        text = str(data["error"].get("message") or data["error"])
    elif isinstance(data, dict) and data.get("error") is not None:
        text = str(data["error"])
    text = " ".join(redact(text, headers).split())
    return (text[:299] + "…" if len(text) > 300 else text) or "(empty body)"


def redact(text: str, headers: Mapping[str, str]) -> str:
    """`text` with the header values we sent (and a bearer token alone) replaced by ***."""
    for value in headers.values():
        for secret in {value, value.split(" ", 1)[-1]}:
            if len(secret) >= 8:
                text = text.replace(secret, "***")
    return text


class Transport:
    """Sends JSON requests and yields decoded JSON lines, enforcing every limit."""

    def __init__(self, session_factory: Callable[[], requests.Session] = new_session) -> None:
        self._factory = session_factory
        self._sessions: dict[str, requests.Session] = {}
        # Prepared POSTs per (url, path, headers): each request copies one and sets its body.
        self._templates: dict[tuple[str, str, tuple[tuple[str, str], ...]], _Template] = {}
        self._lock = threading.Lock()

    def session(self, url: str) -> requests.Session:
        with self._lock:
            session = self._sessions.get(url)
            if session is None:
                session = self._sessions[url] = self._factory()
            return session

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
            self._templates.clear()
        for session in sessions:
            session.close()

    def _template(self, url: str, path: str, headers: Mapping[str, str]) -> _Template:
        """The prepared POST for this endpoint, path and headers, made once.

        Session.post() merges the session's settings into every request (cookies, hooks,
        proxies, headers) and parses the URL again each time; for a model request that is most
        of the client's own cost. The merge happens here once; each request then copies the
        prepared request and goes straight to the session's adapter.
        """
        key = (url, path, tuple(sorted(headers.items())))
        with self._lock:
            template = self._templates.get(key)
        if template is None:
            session = self.session(url)
            prepared = session.prepare_request(
                requests.Request(
                    "POST", url + path, headers={"Content-Type": "application/json", **headers}
                )
            )
            template = _Template(prepared, session.get_adapter(url))
            with self._lock:
                if len(self._templates) > 256:  # headers from the environment may change
                    self._templates.clear()
                self._templates[key] = template
        return template

    def _post(
        self,
        url: str,
        path: str,
        payload: Mapping[str, Any],
        headers: Mapping[str, str],
        timeouts: Timeouts,
    ) -> requests.Response:
        template = self._template(url, path, headers)
        prepared = template.request.copy()
        body = json.dumps(payload).encode("utf-8")
        prepared.body = body
        prepared.headers["Content-Length"] = str(len(body))
        return template.adapter.send(
            prepared, stream=True, timeout=(timeouts.connect, timeouts.first_byte)
        )

    def get_json(self, url: str, path: str, *, timeout: float, headers: Mapping[str, str]) -> Any:
        """A small GET (health probes); raises LLMError subclasses."""
        try:
            response = self.session(url).get(
                url + path, timeout=(timeout, timeout), headers=dict(headers)
            )
        except requests.exceptions.ConnectTimeout:
            raise EndpointTimeout(
                f"no connection within {timeout:g} s", endpoint=url, phase="connect"
            ) from None
        except requests.exceptions.Timeout:
            raise EndpointTimeout(f"no answer within {timeout:g} s", endpoint=url) from None
        except requests.exceptions.RequestException as exc:
            raise EndpointUnreachable(_describe_connection_error(exc), endpoint=url) from None
        if response.status_code >= 400:
            raise HTTPStatusError(
                response.status_code, _error_text(response.content, headers), endpoint=url
            )
        try:
            return response.json()
        except ValueError:
            raise MalformedReply(
                "the reply is not JSON; is this an Ollama server?", endpoint=url
            ) from None

    def stream_lines(
        self,
        url: str,
        path: str,
        payload: Mapping[str, Any],
        *,
        headers: Mapping[str, str],
        limits: StreamLimits,
        cancel: CancelToken | None,
        line_parser: Callable[[bytes], Any],
    ) -> Generator[Any, None, None]:
        """POST `payload` and yield each parsed line of the streamed reply."""
        timeouts = limits.timeouts
        tracker = Tracker()
        remove = cancel.add_callback(tracker.cut) if cancel is not None else (lambda: None)
        # The whole reply has a deadline too: a server that drips bytes never trips `idle`.
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            tracker.cut()

        deadline = DEADLINES.add(time.monotonic() + timeouts.total, expire)
        response: requests.Response | None = None
        chunks: Iterator[bytes] | None = None
        active.tracker = tracker
        try:
            try:
                response = self._post(url, path, payload, headers, timeouts)
            except requests.exceptions.ConnectTimeout:
                self._check_cancel(cancel)
                raise EndpointTimeout(
                    f"no connection within {timeouts.connect:g} s (timeouts.connect)",
                    endpoint=url,
                    phase="connect",
                ) from None
            except requests.exceptions.Timeout:
                self._check_cancel(cancel)
                self._check_expired(expired, url, timeouts.total)
                raise EndpointTimeout(
                    f"no reply within {timeouts.first_byte:g} s (timeouts.first_byte; a cold "
                    "model load can take minutes)",
                    endpoint=url,
                    phase="first_byte",
                ) from None
            except requests.exceptions.RequestException as exc:
                self._check_cancel(cancel)
                self._check_expired(expired, url, timeouts.total)
                raise EndpointUnreachable(_describe_connection_error(exc), endpoint=url) from None
            finally:
                active.tracker = None
            self._check_cancel(cancel)
            if 300 <= response.status_code < 400:
                where = response.headers.get("Location", "elsewhere")
                raise HTTPStatusError(
                    response.status_code,
                    f"the endpoint redirects to {redact(where, headers)}; put that URL in the "
                    "config instead",
                    endpoint=url,
                )
            if response.status_code >= 400:
                body = response.raw.read(64 * 1024, decode_content=True) or b""
                raise HTTPStatusError(
                    response.status_code, _error_text(body, headers), endpoint=url
                )
            tracker.set_read_timeout(timeouts.idle)
            chunks = _raw_chunks(response.raw)
            yield from self._read_lines(chunks, url, limits, expired, cancel, line_parser)
        finally:
            active.tracker = None
            remove()
            DEADLINES.remove(deadline)
            if response is not None:
                _finish(response, tracker, sys.exc_info()[1], cancel, chunks)

    def _read_lines(
        self,
        chunks: Iterator[bytes],
        url: str,
        limits: StreamLimits,
        expired: threading.Event,
        cancel: CancelToken | None,
        line_parser: Callable[[bytes], Any],
    ) -> Iterator[Any]:
        timeouts = limits.timeouts
        buffer = b""
        received = 0
        while True:
            try:
                chunk = next(chunks, b"")
            except Exception as exc:  # urllib3 wraps socket errors in several types
                self._check_cancel(cancel)
                self._check_expired(expired, url, timeouts.total)
                if _is_timeout(exc):
                    raise EndpointTimeout(
                        f"the stream went silent for {timeouts.idle:g} s (timeouts.idle)",
                        endpoint=url,
                        phase="idle",
                    ) from None
                raise StreamError(
                    f"the connection broke mid-stream ({type(exc).__name__})", endpoint=url
                ) from None
            self._check_cancel(cancel)
            self._check_expired(expired, url, timeouts.total)
            if not chunk:
                break
            received += len(chunk)
            if received > limits.max_bytes:
                raise OutputTooLarge(
                    f"the reply passed {limits.max_bytes} bytes and was cut off (max_output_chars)",
                    endpoint=url,
                )
            if b"\n" not in chunk:
                buffer += chunk
                continue
            *lines, rest = (buffer + chunk).split(b"\n")
            buffer = rest
            for line in lines:
                if line.strip():
                    yield line_parser(line)
        if buffer.strip():
            yield line_parser(buffer)

    @staticmethod
    def _check_expired(expired: threading.Event, url: str, total: float) -> None:
        if expired.is_set():
            raise EndpointTimeout(
                f"the reply took longer than {total:g} s (timeouts.total)",
                endpoint=url,
                phase="total",
            )

    @staticmethod
    def _check_cancel(cancel: CancelToken | None) -> None:
        if cancel is not None and cancel.cancelled:
            raise Cancelled()


def _raw_chunks(raw: Any) -> Iterator[bytes]:
    """The body as it arrives: whole HTTP chunks when chunked, else what each read gives."""
    if raw.chunked and raw.supports_chunked_reads():
        yield from raw.read_chunked(decode_content=True)
        return
    while True:
        chunk = raw.read1(64 * 1024)
        if not chunk:
            return
        yield chunk


def _finish(
    response: requests.Response,
    tracker: Tracker,
    error: BaseException | None,
    cancel: CancelToken | None,
    chunks: Iterator[bytes] | None,
) -> None:
    """Give a fully read connection back for reuse; close any other so the server stops."""
    reusable = (
        chunks is not None
        and (error is None or isinstance(error, GeneratorExit))
        and not (cancel is not None and cancel.cancelled)
    )
    if reusable and chunks is not None:
        try:
            tracker.set_read_timeout(1.0)
            # The done line came; what is left is at most the end of the chunked framing.
            left = 0
            for piece in chunks:
                left += len(piece)
                if left > _DRAIN_LIMIT:
                    reusable = False
                    break
        except Exception:
            reusable = False
        if reusable:
            response.raw.release_conn()
            return
    response.close()


def _is_timeout(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (socket.timeout, TimeoutError)) or "timed out" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _describe_connection_error(exc: BaseException) -> str:
    text = str(exc)
    if "Connection refused" in text or "ECONNREFUSED" in text:
        return "connection refused (no server is listening on that port)"
    if (
        "Name or service not known" in text
        or "nodename nor servname" in text
        or "Failed to resolve" in text
    ):
        return "the host name does not resolve"
    if "reset" in text.lower():
        return "the connection was reset"
    if "RemoteDisconnected" in text or "closed connection" in text.lower():
        return "the server closed the connection without answering"
    return f"cannot connect ({type(exc).__name__})"


def reraise_unexpected(exc: Exception, url: str) -> LLMError:
    """Map an unexpected exception during a request to a retryable LLMError."""
    return EndpointUnreachable(f"unexpected failure: {type(exc).__name__}: {exc}", endpoint=url)
