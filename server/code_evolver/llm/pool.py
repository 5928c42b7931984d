"""Endpoint health and routing: round-robin or least-busy per role, cooldown on failure."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ..config import Cooldown, Endpoint, RoleSettings
from .errors import LLMError, ModelNotFound


@dataclass
class EndpointHealth:
    """What we know about one server URL, shared by every role that lists it."""

    url: str
    in_flight: int = 0
    requests: int = 0
    successes: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    cooling_until: float = 0.0
    last_error: str | None = None
    last_latency: float | None = None

    def __post_init__(self) -> None:
        self.missing_models: dict[str, float] = {}


@dataclass(frozen=True)
class EndpointStatus:
    """A snapshot of one endpoint for status output."""

    url: str
    state: str  # "ok", "cooling" or "model missing"
    cooling_for: float
    in_flight: int
    requests: int
    successes: int
    failures: int
    last_error: str | None
    last_latency: float | None


class HealthRegistry:
    """Health of every known endpoint, with passive cooldown like nginx's max_fails."""

    def __init__(self, cooldown: Cooldown, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self.clock = clock
        self._lock = threading.Lock()
        self._health: dict[str, EndpointHealth] = {}
        self._listeners: list[Callable[[], None]] = []

    def get(self, url: str) -> EndpointHealth:
        with self._lock:
            health = self._health.get(url)
            if health is None:
                health = self._health[url] = EndpointHealth(url)
            return health

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` (no arguments) whenever an endpoint turns healthy or unhealthy."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):  # a status listener must never break a request
                listener()

    def usable(self, url: str, model: str | None, now: float | None = None) -> bool:
        now = self.clock() if now is None else now
        health = self.get(url)
        with self._lock:
            if health.cooling_until > now:
                return False
            return not (model and health.missing_models.get(model, 0.0) > now)

    @contextmanager
    def track(self, url: str) -> Iterator[EndpointHealth]:
        """Count a request in flight for its whole life, whatever happens."""
        health = self.get(url)
        with self._lock:
            health.in_flight += 1
            health.requests += 1
        try:
            yield health
        finally:
            with self._lock:
                health.in_flight -= 1

    def record_success(self, url: str, latency: float) -> None:
        health = self.get(url)
        with self._lock:
            changed = health.consecutive_failures > 0 or health.cooling_until > 0
            health.successes += 1
            health.consecutive_failures = 0
            health.cooling_until = 0.0
            health.last_latency = latency
        if changed:
            self._notify()

    def record_failure(self, url: str, error: LLMError, model: str | None) -> float:
        """Cool the endpoint down (or just the model on it); returns the cooldown in seconds."""
        health = self.get(url)
        now = self.clock()
        with self._lock:
            health.failures += 1
            health.last_error = error.detail
            if isinstance(error, ModelNotFound) and model:
                # The server is fine; only this model is missing there.
                health.missing_models[model] = now + self.cooldown.model_missing
                seconds = self.cooldown.model_missing
            elif not error.retryable:
                return 0.0
            elif health.cooling_until > now:
                # Requests that were already in flight when it failed: one outage, one count.
                return health.cooling_until - now
            else:
                health.consecutive_failures += 1
                seconds = min(
                    self.cooldown.base * 2 ** (health.consecutive_failures - 1), self.cooldown.max
                )
                health.cooling_until = now + seconds
        self._notify()
        return seconds

    def status(self, url: str, model: str | None = None) -> EndpointStatus:
        now = self.clock()
        health = self.get(url)
        with self._lock:
            cooling = max(0.0, health.cooling_until - now)
            missing = model is not None and health.missing_models.get(model, 0.0) > now
            state = "cooling" if cooling > 0 else "model missing" if missing else "ok"
            return EndpointStatus(
                url,
                state,
                cooling,
                health.in_flight,
                health.requests,
                health.successes,
                health.failures,
                health.last_error,
                health.last_latency,
            )


class RolePool:
    """The endpoints of one role and the order to try them in for each request."""

    def __init__(
        self, settings: RoleSettings, registry: HealthRegistry, rng: random.Random | None = None
    ) -> None:
        self.settings = settings
        self.registry = registry
        self._lock = threading.Lock()
        self._next = 0
        self._requests = 0
        self._rng = rng or random.Random()
        # least_busy: picks not yet counted in flight, so a burst does not all pick one host.
        self._claimed: dict[str, int] = {}

    @property
    def role(self) -> str:
        return self.settings.role

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return self.settings.endpoints

    @property
    def request_count(self) -> int:
        return self._requests

    def plan(self, model: str) -> list[Endpoint]:
        """Endpoints in the order to try: usable ones first, then (panic mode) the cooling ones."""
        endpoints = self.settings.endpoints
        now = self.registry.clock()
        with self._lock:
            self._requests += 1
            if self.settings.strategy == "least_busy":
                ordered = self._least_busy_order(model, now)
                self._claimed[ordered[0].url] = self._claimed.get(ordered[0].url, 0) + 1
            else:
                start = self._next % len(endpoints)
                ordered = list(endpoints[start:] + endpoints[:start])
                usable = [e for e in ordered if self.registry.usable(e.url, model, now)]
                # The turn passes to the endpoint after the one this request really starts on,
                # so a cooling endpoint does not make its neighbour take two turns in a row.
                first = usable[0] if usable else ordered[0]
                self._next = endpoints.index(first) + 1
        usable = [e for e in ordered if self.registry.usable(e.url, model, now)]
        resting = [e for e in ordered if e not in usable]
        return usable + resting

    def release(self, url: str) -> None:
        """The request planned onto `url` is now counted in flight (or will never be)."""
        with self._lock:
            if self._claimed.get(url):
                self._claimed[url] -= 1

    def _least_busy_order(self, model: str, now: float) -> list[Endpoint]:
        endpoints = list(self.settings.endpoints)
        usable = [e for e in endpoints if self.registry.usable(e.url, model, now)] or endpoints

        def load(e: Endpoint) -> tuple[int, float]:
            health = self.registry.get(e.url)
            # Ties go to the endpoint that answered fastest last time.
            return (health.in_flight + self._claimed.get(e.url, 0), health.last_latency or 0.0)

        if len(usable) >= 2:
            a, b = self._rng.sample(usable, 2)
            first = a if load(a) <= load(b) else b
        else:
            first = usable[0]
        rest = sorted((e for e in endpoints if e is not first), key=load)
        return [first, *rest]
