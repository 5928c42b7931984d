"""Endpoint health shared by every role: cooldown on failure, slots in use, speed, loaded models."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..config import Cooldown
from .errors import EndpointTimeout, EndpointUnreachable, LLMError, ModelNotFound
from .ollama_api import has_model

# Weight of the newest sample in the moving averages of `fastest`: about the last ten requests.
SPEED_ALPHA = 0.2


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
    slots_in_use: int = 0  # leases handed out by the schedulers, released after the reply
    first_byte: float | None = None  # moving average, seconds
    per_token: float | None = None  # moving average, seconds per streamed chunk
    tokens: float | None = None  # moving average of chunks per reply
    # Models the server has in memory (None: never asked); `loading` ones have a request there.
    loaded: set[str] | None = None
    loading: dict[str, int] = field(default_factory=dict)
    api: str = "ollama"
    # The last failure is one a cheap probe can check (the server was not there at all).
    probe_clears: bool = False

    def __post_init__(self) -> None:
        self.missing_models: dict[str, float] = {}

    def service_time(self) -> float | None:
        """Expected seconds for one more reply, from the moving averages (None: not measured)."""
        if self.first_byte is None:
            return None
        return self.first_byte + (self.per_token or 0.0) * (self.tokens or 0.0)

    def is_cold(self, model: str) -> bool:
        """True only when the server said what it has loaded and `model` is not among it."""
        if self.loaded is None or self.loading.get(model):
            return False
        return not has_model(sorted(self.loaded), model, self.api)


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
    priority: int = 0
    weight: float = 1.0
    max_parallel: int | None = None
    slots_in_use: int = 0
    loaded: tuple[str, ...] | None = None  # None: not known
    service_time: float | None = None


class HealthRegistry:
    """Health of every known endpoint, with passive cooldown like nginx's max_fails.

    One re-entrant lock guards all of it, and `changed` (a condition on that lock) wakes the
    request first in each queue whenever a slot frees or an endpoint changes state.
    """

    def __init__(self, cooldown: Cooldown, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown = cooldown
        self.clock = clock
        self._lock = threading.RLock()
        self.changed = threading.Condition(self._lock)
        self._health: dict[str, EndpointHealth] = {}
        self._listeners: list[Callable[[], None]] = []

    def get(self, url: str) -> EndpointHealth:
        with self._lock:
            health = self._health.get(url)
            if health is None:
                health = self._health[url] = EndpointHealth(url)
            return health

    def condition(self) -> threading.Condition:
        """A condition on the registry's lock, to wake one waiting request alone."""
        return threading.Condition(self._lock)

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` (no arguments) whenever an endpoint turns healthy or unhealthy."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        with self._lock:
            self.changed.notify_all()
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

    def probe_targets(self) -> list[str]:
        """URLs a background probe may free: down for a reason `/api/tags` can check, or
        missing a model (the probe lists what is pulled now)."""
        now = self.clock()
        with self._lock:
            return [
                h.url
                for h in self._health.values()
                if (h.cooling_until > now and h.probe_clears)
                or any(t > now for t in h.missing_models.values())
            ]

    # ------------------------------------------------------------ slots

    def take_slot(self, url: str, model: str) -> None:
        with self._lock:
            health = self.get(url)
            health.slots_in_use += 1
            health.loading[model] = health.loading.get(model, 0) + 1

    def free_slot(self, url: str, model: str) -> None:
        with self._lock:
            health = self.get(url)
            health.slots_in_use = max(0, health.slots_in_use - 1)
            left = health.loading.get(model, 0) - 1
            if left > 0:
                health.loading[model] = left
            else:
                health.loading.pop(model, None)
            self.changed.notify_all()

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

    # ------------------------------------------------------------ outcomes

    def record_success(
        self,
        url: str,
        latency: float,
        *,
        first_byte: float | None = None,
        tokens: int | None = None,
        model: str | None = None,
    ) -> None:
        health = self.get(url)
        with self._lock:
            changed = health.consecutive_failures > 0 or health.cooling_until > 0
            health.successes += 1
            health.consecutive_failures = 0
            health.cooling_until = 0.0
            health.last_latency = latency
            if first_byte is not None:
                self._learn_speed(health, latency, first_byte, tokens or 0)
            if model and health.loaded is not None and health.is_cold(model):
                # It answered, so the model is in memory now (named as /api/ps would).
                health.loaded.add(
                    model if ":" in model or health.api != "ollama" else f"{model}:latest"
                )
        if changed:
            self._notify()

    @staticmethod
    def _learn_speed(
        health: EndpointHealth, latency: float, first_byte: float, tokens: int
    ) -> None:
        def average(old: float | None, new: float) -> float:
            return new if old is None else old + SPEED_ALPHA * (new - old)

        health.first_byte = average(health.first_byte, first_byte)
        if tokens > 0:
            health.per_token = average(health.per_token, max(0.0, latency - first_byte) / tokens)
        health.tokens = average(health.tokens, float(tokens))

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
                # A runner that crashed or hangs still answers /api/tags: only a refused
                # or unanswered connection is something a probe can see come back.
                health.probe_clears = isinstance(error, EndpointUnreachable) or (
                    isinstance(error, EndpointTimeout) and error.phase == "connect"
                )
                health.consecutive_failures += 1
                seconds = min(
                    self.cooldown.base * 2 ** (health.consecutive_failures - 1), self.cooldown.max
                )
                health.cooling_until = now + seconds
        self._notify()
        return seconds

    def record_probe(self, url: str, models: Iterable[str] | None, api: str = "ollama") -> None:
        """A background probe answered: traffic may come back (half-open, one probe).

        `consecutive_failures` stays, so a server that answers probes but fails real requests
        gets a longer cooldown next time; only a served request resets it.
        """
        names = None if models is None else set(models)
        with self._lock:
            health = self.get(url)
            was_cooling = health.cooling_until > 0
            health.cooling_until = 0.0
            if names is not None:
                health.api = api
                for model in list(health.missing_models):
                    if has_model(sorted(names), model, api):
                        del health.missing_models[model]
        if was_cooling:
            self._notify()

    def set_loaded(self, url: str, models: Iterable[str], api: str = "ollama") -> None:
        """What the server says it has in memory (`/api/ps`, or `/v1/models`)."""
        with self._lock:
            health = self.get(url)
            health.loaded = set(models)
            health.api = api
            self.changed.notify_all()

    def status(
        self, url: str, model: str | None = None, endpoint: object | None = None
    ) -> EndpointStatus:
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
                priority=getattr(endpoint, "priority", 0),
                weight=getattr(endpoint, "weight", 1.0),
                max_parallel=getattr(endpoint, "max_parallel", None),
                slots_in_use=health.slots_in_use,
                loaded=None if health.loaded is None else tuple(sorted(health.loaded)),
                service_time=health.service_time(),
            )
