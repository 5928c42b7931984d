"""Connections a request can be cut from another thread, and the one timer for total deadlines.

urllib3 gives no handle on the socket a streaming request is reading; these connection classes
remember it per thread, so a cancel (or the total deadline) shuts the socket and the reading
thread wakes at once with an error instead of waiting out its read timeout.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# The tracker of the request this thread is sending; the tracked connections register with it.
active = threading.local()


class Tracker:
    """Holds the connection a request is using so another thread can cut it."""

    def __init__(self) -> None:
        self.connection: HTTPConnection | None = None
        self.closed = False
        self._lock = threading.Lock()

    def attach(self, connection: HTTPConnection) -> None:
        with self._lock:
            self.connection = connection
            cut = self.closed
        if cut:
            self._shutdown(connection)

    def cut(self) -> None:
        with self._lock:
            self.closed = True
            connection = self.connection
        if connection is not None:
            self._shutdown(connection)

    @staticmethod
    def _shutdown(connection: HTTPConnection) -> None:
        sock = getattr(connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def set_read_timeout(self, seconds: float) -> None:
        sock = getattr(self.connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(seconds)


class _TrackedMixin:
    def request(self, *args: Any, **kwargs: Any) -> Any:
        tracker: Tracker | None = getattr(active, "tracker", None)
        if tracker is not None:
            tracker.attach(self)  # type: ignore[arg-type]
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _TrackedHTTPConnection(_TrackedMixin, HTTPConnection):
    pass


class _TrackedHTTPSConnection(_TrackedMixin, HTTPSConnection):
    pass


class _TrackedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class _TrackedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _TrackedHTTPPool,
            "https": _TrackedHTTPSPool,
        }
        self.poolmanager.key_fn_by_scheme = dict(self.poolmanager.key_fn_by_scheme)
        # urllib3 2.x no longer closes a pool when its manager is cleared, so Session.close()
        # left idle kept-alive sockets open until garbage collection. Each session here talks
        # to one URL, so closing the pool on clear cannot hit one another host still uses.
        self.poolmanager.pools.dispose_func = lambda pool: pool.close()


class Deadlines:
    """One watchdog thread that calls each callback when its deadline passes."""

    def __init__(self) -> None:
        # Entries are [when, number, callback]; a removed one keeps its place with no callback.
        self._heap: list[list[Any]] = []
        self._entries: dict[int, list[Any]] = {}
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, when: float, callback: Callable[[], None]) -> int:
        with self._wake:
            number = next(self._ids)
            entry = [when, number, callback]
            self._entries[number] = entry
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="code-evolver-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0] is entry:
                # Only a deadline sooner than every other one changes how long the thread
                # sleeps; waking it for each request would put it on the GIL at every send.
                self._wake.notify()
            return number

    def remove(self, number: int) -> None:
        with self._wake:
            entry = self._entries.pop(number, None)
            if entry is not None:
                entry[2] = None
            if len(self._heap) > 2 * len(self._entries) + 64:
                self._heap = [e for e in self._heap if e[2] is not None]
                heapq.heapify(self._heap)

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2] is None:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait(60)
                    continue
                when, number, callback = self._heap[0]
                delay = when - time.monotonic()
                if delay > 0:
                    self._wake.wait(min(delay, 60))
                    continue
                heapq.heappop(self._heap)
                self._entries.pop(number, None)
            with contextlib.suppress(Exception):
                callback()


DEADLINES = Deadlines()


def new_session() -> requests.Session:
    """A session whose connections are kept alive and can be cut from another thread."""
    session = requests.Session()
    session.trust_env = False  # a proxy from the environment must not swallow loopback calls
    adapter = _TrackedAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
