"""Which endpoint serves a role's next request: tiers, weights, free slots, a queue, affinity."""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Collection
from dataclasses import dataclass

from ..cancel import CancelToken
from ..config import Endpoint, RoleSettings
from .errors import QueueTimeout
from .pool import HealthRegistry

# Sessions remembered per role for affinity; the oldest is forgotten first.
MAX_SESSIONS = 512
# How often a waiting request looks at its cancel token (slot releases wake it sooner).
CANCEL_POLL = 0.1
# What `fastest` expects a model load to cost on a server that does not have it in memory:
# Ollama loading a 7B model from disk takes seconds to tens of seconds, more on CPU boxes.
COLD_LOAD_GUESS = 20.0
UNMEASURED_GUESS = COLD_LOAD_GUESS / 2


class _Wait:
    """Every endpoint worth using is full (or `fastest` judged waiting quicker): wait."""


WAIT = _Wait()


class _Turn:
    """One request's place in the queue, and the condition that wakes it alone.

    Only the head of the queue watches the registry's `changed` (a freed slot, an endpoint
    back); the others sleep on their own condition until the one before them leaves. So a
    freed slot wakes one thread instead of the whole queue, and the head does not wait for the
    others to take the GIL and look in turn (with 64 queued, a hand-off took 0.76 ms of
    overhead with notify_all, 0.11 ms now).
    """

    __slots__ = ("alone", "on_changed")

    def __init__(self, alone: threading.Condition) -> None:
        self.alone = alone
        self.on_changed = False

    def wait(self, changed: threading.Condition, head: bool, seconds: float) -> None:
        self.on_changed = head
        (changed if head else self.alone).wait(seconds)

    def wake(self, changed: threading.Condition) -> None:
        """It is first in line now (a failover may have cut in while it watched `changed`)."""
        if self.on_changed:
            changed.notify_all()
        else:
            self.alone.notify()


@dataclass
class Lease:
    """One request's hold on a slot of one endpoint, from the pick until `release`."""

    endpoint: Endpoint
    model: str
    session: str | None
    waited: float
    released: bool = False


class RolePool:
    """The endpoints of one role, the slots they have, and the queue of requests waiting."""

    def __init__(
        self, settings: RoleSettings, registry: HealthRegistry, rng: random.Random | None = None
    ) -> None:
        self.settings = settings
        self.registry = registry
        self._rng = rng or random.Random()
        self._next = 0  # round_robin: index of the endpoint whose turn it is
        self._credit: dict[str, float] = {}  # weighted round_robin (smooth, as nginx does)
        self._served: dict[str, int] = {}
        self._requests = 0
        self._queue: deque[_Turn] = deque()
        self._sessions: OrderedDict[str, str] = OrderedDict()
        weights = {e.weight for e in settings.endpoints}
        self._weighted = len(weights) > 1

    @property
    def role(self) -> str:
        return self.settings.role

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return self.settings.endpoints

    @property
    def request_count(self) -> int:
        return self._requests

    @property
    def queue_length(self) -> int:
        with self.registry.changed:
            return len(self._queue)

    @property
    def wants_loaded_models(self) -> bool:
        """Whether picks look at which servers have the model loaded (so ask them)."""
        routing = self.settings.routing
        return (
            routing.prefer_loaded
            and self.settings.strategy != "round_robin"
            and len(self.settings.endpoints) > 1
        )

    def rotation(self) -> dict[str, object]:
        """Where the rotation stands, for a one-shot command to carry across runs."""
        with self.registry.changed:
            return {"turn": self._next, "credit": dict(self._credit)}

    def restore_rotation(self, state: dict[str, object]) -> None:
        turn, credit = state.get("turn"), state.get("credit")
        with self.registry.changed:
            if isinstance(turn, int) and not isinstance(turn, bool):
                self._next = turn % len(self.settings.endpoints)
            if isinstance(credit, dict):
                urls = {e.url for e in self.settings.endpoints}
                self._credit = {
                    url: float(value)
                    for url, value in credit.items()
                    if url in urls and isinstance(value, (int, float))
                }

    # ------------------------------------------------------------ acquire and release

    def acquire(
        self,
        model: str,
        *,
        session: str | None = None,
        tried: Collection[str] = (),
        cancel: CancelToken | None = None,
    ) -> Lease | None:
        """Wait in arrival order for a slot; None when every endpoint was already tried.

        A failover (`tried` not empty) goes to the front of the queue: it already waited.
        """
        cond = self.registry.changed
        started = time.monotonic()
        deadline = started + self.settings.routing.queue_timeout
        turn = _Turn(self.registry.condition())
        with cond:
            if tried:
                self._queue.appendleft(turn)
            else:
                self._requests += 1
                self._queue.append(turn)
            try:
                while True:
                    head = self._queue[0] is turn
                    if head:
                        choice = self._choose(model, session, tried)
                        if choice is None:
                            return None
                        if isinstance(choice, Endpoint):
                            self.registry.take_slot(choice.url, model)
                            return Lease(choice, model, session, time.monotonic() - started)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise QueueTimeout(self.role, time.monotonic() - started, self.slots)
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                        left = min(left, CANCEL_POLL)
                    turn.wait(cond, head, left)
            finally:
                first = self._queue[0] is turn
                self._queue.remove(turn)
                if first and self._queue:
                    self._queue[0].wake(cond)  # the next in line may go now

    def release(self, lease: Lease, served: bool) -> None:
        """Give the slot back; a served request ties its session to the endpoint."""
        if lease.released:
            return
        lease.released = True
        url = lease.endpoint.url
        with self.registry.changed:
            if served:
                self._served[url] = self._served.get(url, 0) + 1
                if lease.session is not None:
                    self._sessions[lease.session] = url
                    self._sessions.move_to_end(lease.session)
                    while len(self._sessions) > MAX_SESSIONS:
                        self._sessions.popitem(last=False)
            self.registry.free_slot(url, lease.model)

    @property
    def slots(self) -> int:
        """Slots of the role's endpoints (an unlimited endpoint counts one)."""
        return sum(e.max_parallel or 1 for e in self.settings.endpoints)

    # ------------------------------------------------------------ the pick

    def _free(self, endpoint: Endpoint) -> bool:
        limit = endpoint.max_parallel
        return limit is None or self.registry.get(endpoint.url).slots_in_use < limit

    def _choose(
        self, model: str, session: str | None, tried: Collection[str]
    ) -> Endpoint | _Wait | None:
        candidates = self._candidates(model, tried)
        if not candidates:
            return None
        free = [e for e in candidates if self._free(e)]
        sticky = self._sessions.get(session) if session is not None else None
        for endpoint in free:
            if endpoint.url == sticky:
                return endpoint  # its server holds this session's prompt prefix in cache
        if not free:
            return WAIT
        tier = min(e.priority for e in free)
        in_tier = [e for e in free if e.priority == tier]
        strategy = self.settings.strategy
        cold = self.wants_loaded_models
        if strategy == "fastest":
            busy = [e for e in candidates if e.priority == tier and e not in in_tier]
            return self._fastest(model, in_tier, busy, cold, first=not tried)
        if strategy == "least_busy":
            return self._least_busy(model, in_tier, cold)
        return self._round_robin(in_tier, first=not tried)

    def _candidates(self, model: str, tried: Collection[str]) -> list[Endpoint]:
        """The endpoints not tried yet that are usable for `model`, or all of them untried."""
        now = self.registry.clock()
        left = [e for e in self.settings.endpoints if e.url not in tried]
        usable = [e for e in left if self.registry.usable(e.url, model, now)]
        # Panic mode: when every endpoint left is cooling, try them anyway rather than fail.
        return usable or left

    def _round_robin(self, eligible: list[Endpoint], first: bool) -> Endpoint:
        endpoints = self.settings.endpoints
        if self._weighted:
            # Smooth weighted round-robin: exact shares, and no endpoint takes long runs.
            total = sum(e.weight for e in eligible)
            for e in eligible:
                self._credit[e.url] = self._credit.get(e.url, 0.0) + e.weight
            chosen = max(eligible, key=lambda e: self._credit[e.url])
            self._credit[chosen.url] -= total
            return chosen
        start = self._next % len(endpoints)
        order = endpoints[start:] + endpoints[:start]
        chosen = next(e for e in order if e in eligible)
        if first:
            # The turn passes to the endpoint after the one this request really starts on,
            # so a cooling endpoint does not make its neighbour take two turns in a row.
            self._next = endpoints.index(chosen) + 1
        return chosen

    def _least_busy(self, model: str, eligible: list[Endpoint], cold: bool) -> Endpoint:
        if len(eligible) == 1:
            return eligible[0]

        def load(e: Endpoint) -> tuple[float, bool, float]:
            health = self.registry.get(e.url)
            # Equally busy: the one with the model in memory, then the fastest last time.
            cold_there = cold and health.is_cold(model)
            return (health.slots_in_use / e.weight, cold_there, health.last_latency or 0.0)

        if not self._weighted:
            # Power of two choices: the less busy of two random endpoints.
            a, b = self._rng.sample(eligible, 2)
            return a if load(a) <= load(b) else b

        def share(e: Endpoint) -> tuple[float, float, bool]:
            # Busy first; then the one furthest behind its weighted share of the work (the
            # configured split outranks a cold load, which a served request ends anyway).
            busy, cold_there, _ = load(e)
            return (busy, self._served.get(e.url, 0) / e.weight, cold_there)

        return min(eligible, key=share)

    def _fastest(
        self,
        model: str,
        free: list[Endpoint],
        busy: list[Endpoint],
        cold: bool,
        first: bool,
    ) -> Endpoint | _Wait:
        """The endpoint expected to finish this request first, counting the wait for a slot.

        An endpoint never measured is tried at once (expected time 0), so each gets measured;
        one without the model loaded pays COLD_LOAD_GUESS on top. When a full endpoint would
        finish sooner than any free one, the request waits for it: that keeps the tail of a
        burst off a slow server.
        """
        endpoints = self.settings.endpoints

        def eta(e: Endpoint) -> float:
            health = self.registry.get(e.url)
            measured = health.service_time()
            service = measured or 0.0
            if cold and health.is_cold(model):
                service += COLD_LOAD_GUESS
            limit = e.max_parallel
            if limit is None or health.slots_in_use < limit:
                return service
            if measured is None:
                # Full and never measured: assume it beats a cold load but not a server
                # whose speed is known (its first reply will tell).
                return UNMEASURED_GUESS
            # This request is first in line: it starts when one of `limit` slots frees.
            return service + service * (health.slots_in_use - limit + 1) / limit

        def rank(e: Endpoint) -> tuple[float, float, int]:
            health = self.registry.get(e.url)
            fill = health.slots_in_use / (e.max_parallel or 1) / e.weight
            # Last tie-break: the rotation, so equal endpoints share (and a CLI run that
            # carries the turn over starts on the next one).
            turn = (endpoints.index(e) - self._next) % len(endpoints)
            return (eta(e), fill, turn)

        best = min(free, key=rank)
        best_eta = eta(best)
        if any(eta(e) < best_eta for e in busy):
            return WAIT
        if first:
            self._next = endpoints.index(best) + 1
        return best
