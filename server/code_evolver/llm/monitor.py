"""Background checks: half-open probes of cooling endpoints, and what each server has loaded.

One daemon thread per client, started only when there is something to check (an endpoint
cooling for a reason a probe can see, or a role that prefers servers with its model loaded), and
gone again when there is nothing left: a client with one endpoint never starts it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections import deque
from typing import Protocol

from ..config import Endpoint
from .pool import HealthRegistry
from .results import ProbeResult
from .scheduler import RolePool

log = logging.getLogger("code_evolver.llm")

# The first request of a role that prefers loaded models waits this long, at most, to learn
# which servers have the model: long enough for loopback and LAN, short for a hanging host.
FIRST_LOOK = 0.5
PROBE_TIMEOUT = 2.0


class Watched(Protocol):
    """What the monitor asks of the client it watches: `OllamaClient` imports the monitor, and
    the monitor knows the client only by these."""

    registry: HealthRegistry

    def pools(self) -> list[RolePool]: ...

    def loaded_models(
        self, endpoint: Endpoint, timeout: float = ..., *, keep_alive: bool = ...
    ) -> list[str] | None: ...

    def probe(
        self,
        endpoint: Endpoint | str,
        timeout: float = ...,
        api: str = ...,
        *,
        keep_alive: bool = ...,
    ) -> ProbeResult: ...


class Monitor:
    """Probes cooling endpoints (`/api/tags`, as `doctor` does) and asks what is loaded."""

    def __init__(self, client: Watched) -> None:
        # A weak reference: the thread must not keep a client alive that nobody uses.
        self._client = weakref.ref(client)
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        # Requests waiting for the first look, oldest first; each wakes alone, in turn.
        self._waiting: deque[threading.Condition] = deque()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._woken = False
        self._looked: dict[str, float] = {}  # url -> when its loaded models were last asked
        self._probed: dict[str, float] = {}  # url -> when it was last probed

    def wake(self) -> None:
        """Something may need checking: make sure the thread runs."""
        with self._cond:
            if self._closed:
                return
            self._woken = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="code-evolver-monitor", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def learn_loaded(self, pool: object) -> None:
        """Before a role's first pick: wait briefly until its servers said what is loaded.

        The requests that came meanwhile leave in the order they came, so they reach the
        role's queue in arrival order too.
        """
        urls = [e.url for e in getattr(pool, "endpoints", ())]
        with self._cond:
            if all(url in self._looked for url in urls):
                return
        self.wake()
        deadline = time.monotonic() + FIRST_LOOK
        turn = threading.Condition(self._lock)
        with self._cond:
            self._waiting.append(turn)
            try:
                while True:
                    first = self._waiting[0] is turn
                    if first and all(url in self._looked for url in urls):
                        return
                    left = deadline - time.monotonic()
                    if left <= 0 or self._closed:
                        return
                    (self._cond if first else turn).wait(left)
            finally:
                first = self._waiting[0] is turn
                self._waiting.remove(turn)
                if first and self._waiting:
                    self._waiting[0].notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(PROBE_TIMEOUT + 1)

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            client = self._client()
            if client is None:
                return
            pause = self._check(client)
            del client  # not held while sleeping
            with self._cond:
                # A wake() during the round (a failure just now) is not in what the round
                # saw: look again rather than end with an endpoint left cooling unprobed.
                if self._closed or (pause is None and not self._woken):
                    self._thread = None
                    return
                if not self._woken:
                    self._cond.wait(pause)
                self._woken = False

    def _check(self, client: Watched) -> float | None:
        """One round; returns seconds until the next is due, None when nothing is left."""
        now = time.monotonic()
        endpoints, wanted, probe_every, look_every = self._what_to_watch(client)
        stale = [url for url in wanted if now - self._looked.get(url, -math.inf) >= look_every]
        self._look_all(client, [endpoints[url] for url in stale])
        due = [self._looked.get(url, now) + look_every for url in wanted]
        targets = set(client.registry.probe_targets())
        for url in targets:
            last = self._probed.get(url)
            if last is None:
                # The first probe waits a full interval: a server that just failed is rarely
                # back within milliseconds, and the status shows the failure meanwhile.
                self._probed[url] = last = now
            elif now - last >= probe_every:
                self._probe(client, endpoints.get(url) or Endpoint(url))
                self._probed[url] = last = time.monotonic()
            due.append(last + probe_every)
        for url in list(self._probed):
            if url not in targets:
                del self._probed[url]
        if not due:
            return None
        return max(0.05, min(due) - time.monotonic())

    @staticmethod
    def _what_to_watch(
        client: Watched,
    ) -> tuple[dict[str, Endpoint], list[str], float, float]:
        endpoints: dict[str, Endpoint] = {}
        wanted: list[str] = []
        probe_every = look_every = float("inf")
        for pool in client.pools():
            routing = pool.settings.routing
            probe_every = min(probe_every, routing.probe_interval)
            for endpoint in pool.endpoints:
                endpoints.setdefault(endpoint.url, _with_api(endpoint, pool.settings.api))
            if pool.wants_loaded_models:
                look_every = min(look_every, routing.loaded_refresh)
                wanted.extend(e.url for e in pool.endpoints if e.url not in wanted)
        return endpoints, wanted, probe_every, look_every

    def _look_all(self, client: Watched, endpoints: list[Endpoint]) -> None:
        """Ask every server at once: each answer counts as it comes, so the first pick does
        not wait for them one after another (nor the others for a host that hangs)."""
        helpers = [
            threading.Thread(
                target=self._look, args=(client, e), name="code-evolver-look", daemon=True
            )
            for e in endpoints[1:]
        ]
        for helper in helpers:
            helper.start()
        if endpoints:
            self._look(client, endpoints[0])
        for helper in helpers:
            helper.join()

    def _look(self, client: Watched, endpoint: Endpoint) -> None:
        models = client.loaded_models(endpoint, PROBE_TIMEOUT, keep_alive=False)
        if models is not None:
            client.registry.set_loaded(endpoint.url, models, endpoint.api or "ollama")
        with self._cond:
            self._looked[endpoint.url] = time.monotonic()
            self._cond.notify_all()

    @staticmethod
    def _probe(client: Watched, endpoint: Endpoint) -> None:
        result = client.probe(endpoint, PROBE_TIMEOUT, keep_alive=False)
        if result.ok:
            log.info(
                "Endpoint %s answers again (background probe); sending it requests", result.url
            )
            client.registry.record_probe(result.url, result.models, result.api)


def _with_api(endpoint: Endpoint, role_api: str) -> Endpoint:
    if endpoint.api is not None:
        return endpoint
    from dataclasses import replace

    return replace(endpoint, api=role_api)
