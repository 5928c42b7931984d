"""OllamaClient: sends each role's requests to its endpoints in turn and fails over."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..cancel import Cancelled, CancelToken
from ..config import ConfigManager, Endpoint, RoleSettings
from .dialects import DIALECTS, OllamaDialect, Request
from .errors import (
    AllEndpointsFailed,
    LLMError,
)
from .exchange import send_once
from .monitor import Monitor
from .pool import HealthRegistry
from .results import Generation, ProbeResult, RoleStatus
from .scheduler import RolePool
from .transport import StreamLimits, Transport

log = logging.getLogger("code_evolver.llm")

DEFAULT_ROLE = "default"
# The byte cap on a streamed reply, per character of max_output_chars: Ollama sends every token
# (often a single character) in a JSON line of about a hundred bytes.
BYTES_PER_CHARACTER = 128


# Called with a short step description whenever the client starts on an endpoint.
StepCallback = Callable[[str], None]


class OllamaClient:
    """Client over each role's endpoints: round_robin, least_busy or fastest within priority
    tiers, slots per endpoint, session affinity, failover."""

    def __init__(
        self,
        base_url: str | None = None,
        config_manager: ConfigManager | None = None,
        *,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config_manager or ConfigManager.defaults()
        settings = self.config.settings
        self.base_url = (base_url or settings.base_url).rstrip("/")
        self.registry = HealthRegistry(settings.cooldown, clock)
        self.transport = transport or Transport()
        self._pools: dict[str, RolePool] = {}
        self._lock = threading.Lock()
        for name, role in settings.roles.items():
            self._pools[name] = RolePool(role, self.registry)
        default_role = replace(
            settings.roles["generator"],
            role=DEFAULT_ROLE,
            model="codellama",
            endpoints=(Endpoint(self.base_url),),
        )
        self._pools[DEFAULT_ROLE] = RolePool(default_role, self.registry)
        self.monitor = Monitor(self)

    # ------------------------------------------------------------ public API

    @property
    def endpoint_counters(self) -> dict[str, int]:
        """Requests started per role, e.g. {"generator": 6} (a copy)."""
        with self._lock:
            return {
                name: pool.request_count for name, pool in self._pools.items() if pool.request_count
            }

    def role_settings(self, role: str) -> RoleSettings:
        return self._pool(role).settings

    def generate(
        self,
        model: str | None = None,
        prompt: str = "",
        *,
        model_key: str | None = None,
        system: str | None = None,
        options: Mapping[str, Any] | None = None,
        on_text: Callable[[str], None] | None = None,
        on_step: StepCallback | None = None,
        cancel: CancelToken | None = None,
        session: str | None = None,
    ) -> str:
        """Generate text for `prompt`; returns the whole reply.

        `session` names a piece of work whose requests share a prompt prefix (a fix's attempts
        and candidates): they stay on the endpoint that served the first while it has a slot.
        """
        return self.generate_full(
            model,
            prompt,
            model_key=model_key,
            system=system,
            options=options,
            on_text=on_text,
            on_step=on_step,
            cancel=cancel,
            session=session,
        ).text

    def generate_full(
        self,
        model: str | None = None,
        prompt: str = "",
        *,
        model_key: str | None = None,
        system: str | None = None,
        options: Mapping[str, Any] | None = None,
        on_text: Callable[[str], None] | None = None,
        on_step: StepCallback | None = None,
        cancel: CancelToken | None = None,
        session: str | None = None,
    ) -> Generation:
        pool = self._pool(model_key)
        role = pool.settings
        model_name = model or role.model

        def request(endpoint: Endpoint) -> Request:
            return self._dialect(endpoint, role).generate(
                model_name, prompt, system, self._options(role, options), role.keep_alive
            )

        return self._request(pool, model_name, request, on_text, on_step, cancel, session)

    def chat(
        self,
        model: str | None = None,
        messages: Sequence[Mapping[str, str]] = (),
        *,
        model_key: str | None = None,
        options: Mapping[str, Any] | None = None,
        on_text: Callable[[str], None] | None = None,
        on_step: StepCallback | None = None,
        cancel: CancelToken | None = None,
        session: str | None = None,
    ) -> str:
        """Chat completion over `messages` ([{"role": ..., "content": ...}]); returns the reply."""
        return self.chat_full(
            model,
            messages,
            model_key=model_key,
            options=options,
            on_text=on_text,
            on_step=on_step,
            cancel=cancel,
            session=session,
        ).text

    def chat_full(
        self,
        model: str | None = None,
        messages: Sequence[Mapping[str, str]] = (),
        *,
        model_key: str | None = None,
        options: Mapping[str, Any] | None = None,
        on_text: Callable[[str], None] | None = None,
        on_step: StepCallback | None = None,
        cancel: CancelToken | None = None,
        session: str | None = None,
    ) -> Generation:
        pool = self._pool(model_key)
        role = pool.settings
        model_name = model or role.model

        def request(endpoint: Endpoint) -> Request:
            return self._dialect(endpoint, role).chat(
                model_name, messages, self._options(role, options), role.keep_alive
            )

        return self._request(pool, model_name, request, on_text, on_step, cancel, session)

    def status(self) -> list[RoleStatus]:
        """Every role with the health of each of its endpoints."""
        out = []
        for name, pool in self._pools.items():
            if name == DEFAULT_ROLE or (name == "escalation" and not pool.settings.written):
                continue  # the legacy role shows only when a config still names it
            role = pool.settings
            out.append(
                RoleStatus(
                    name,
                    role.model,
                    role.strategy,
                    pool.request_count,
                    tuple(self.registry.status(e.url, role.model, e) for e in role.endpoints),
                    pool.queue_length,
                )
            )
        return out

    def health_summary(self) -> tuple[int, int]:
        """(usable endpoints, all endpoints) over every distinct URL of the active roles."""
        urls: dict[str, str] = {}
        for name, pool in self._pools.items():
            if name in (DEFAULT_ROLE, "escalation"):
                continue
            for endpoint in pool.settings.endpoints:
                urls.setdefault(endpoint.url, pool.settings.model)
        healthy = sum(1 for url in urls if self.registry.usable(url, None))
        return healthy, len(urls)

    def add_health_listener(self, listener: Callable[[], None]) -> None:
        self.registry.add_listener(listener)

    def probe(
        self,
        endpoint: Endpoint | str,
        timeout: float = 5.0,
        api: str = "ollama",
        *,
        keep_alive: bool = True,
    ) -> ProbeResult:
        """Ask `/api/tags` (or `/v1/models`) which models an endpoint has; never a completion.

        `keep_alive=False` closes the connection after the answer: a background probe every
        few seconds must not hold a socket of its own open to every server it checks.
        """
        if isinstance(endpoint, str):
            endpoint = Endpoint(endpoint)
        dialect = DIALECTS[endpoint.api or api]
        started = time.monotonic()
        try:
            data = self.transport.get_json(
                endpoint.url,
                dialect.models_path,
                timeout=timeout,
                headers=_headers(endpoint, keep_alive),
            )
            names = tuple(dialect.model_names(data))
        except LLMError as exc:
            return ProbeResult(
                endpoint.url, False, (), exc.detail, time.monotonic() - started, dialect.name
            )
        return ProbeResult(
            endpoint.url, True, names, None, time.monotonic() - started, dialect.name
        )

    def loaded_models(
        self, endpoint: Endpoint, timeout: float = 2.0, *, keep_alive: bool = True
    ) -> list[str] | None:
        """Models the server has in memory (`/api/ps`; `/v1/models` where that is all there is),
        or None when it did not answer."""
        dialect = DIALECTS[endpoint.api or "ollama"]
        try:
            data = self.transport.get_json(
                endpoint.url,
                dialect.loaded_path,
                timeout=timeout,
                headers=_headers(endpoint, keep_alive),
            )
            return dialect.model_names(data)
        except LLMError:
            return None

    def pools(self) -> list[RolePool]:
        """The pools of the configured roles (not the role-less calls' one)."""
        return [pool for name, pool in self._pools.items() if name != DEFAULT_ROLE]

    def routing_summary(self) -> dict[str, int]:
        """Slots in use, slots, and requests queued over the active roles (the status item)."""
        in_use = slots = queued = 0
        seen: set[str] = set()
        for pool in self.pools():
            if pool.role == "escalation":
                continue
            queued += pool.queue_length
            for endpoint in pool.endpoints:
                if endpoint.url in seen:
                    continue
                seen.add(endpoint.url)
                in_use += self.registry.get(endpoint.url).slots_in_use
                slots += endpoint.max_parallel or 0
        return {"inUse": in_use, "slots": slots, "queued": queued}

    def close(self) -> None:
        self.monitor.close()
        self.transport.close()

    def __enter__(self) -> OllamaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ routing and failover

    def _pool(self, role: str | None) -> RolePool:
        try:
            return self._pools[role or DEFAULT_ROLE]
        except KeyError:
            known = ", ".join(n for n in self._pools if n != DEFAULT_ROLE)
            raise ValueError(f"unknown model_key {role!r}; known roles: {known}") from None

    @staticmethod
    def _dialect(endpoint: Endpoint, role: RoleSettings) -> OllamaDialect:
        return DIALECTS[endpoint.api or role.api]

    def _options(self, role: RoleSettings, extra: Mapping[str, Any] | None) -> dict[str, Any]:
        merged = dict(role.options)
        if extra:
            merged.update(extra)
        return merged

    def _request(
        self,
        pool: RolePool,
        model: str,
        request: Callable[[Endpoint], Request],
        on_text: Callable[[str], None] | None,
        on_step: StepCallback | None,
        cancel: CancelToken | None,
        session: str | None = None,
    ) -> Generation:
        role = pool.settings
        max_chars = self.config.settings.max_output_chars
        if pool.wants_loaded_models:
            self.monitor.learn_loaded(pool)
        failures: list[LLMError] = []
        tried: list[str] = []
        started = time.monotonic()
        while True:
            if cancel is not None:
                cancel.raise_if_cancelled()
            lease = pool.acquire(model, session=session, tried=tried, cancel=cancel)
            if lease is None:
                break
            endpoint = lease.endpoint
            tried.append(endpoint.url)
            log.info(
                "Generating with model '%s' at %s... (role %s, attempt %d/%d%s)",
                model,
                endpoint.url,
                role.role,
                len(tried),
                len(role.endpoints),
                f", waited {lease.waited:.2f} s for a slot" if lease.waited >= 0.01 else "",
            )
            if on_step is not None:
                on_step(f"Generating with {model} at {endpoint.url}")
            try:
                reply = send_once(
                    self.transport,
                    self.registry,
                    endpoint,
                    self._dialect(endpoint, role),
                    StreamLimits(role.timeouts, max_chars * BYTES_PER_CHARACTER),
                    max_chars,
                    (model, request(endpoint)),
                    on_text,
                    cancel,
                )
            except Cancelled:
                pool.release(lease, served=False)
                log.info("Request to %s cancelled; connection closed", endpoint.url)
                raise
            except LLMError as error:
                pool.release(lease, served=False)
                failures.append(error)
                cooldown = self.registry.record_failure(endpoint.url, error, model)
                if self.registry.get(endpoint.url).probe_clears or error.reason == "model missing":
                    self.monitor.wake()
                if not error.retryable:
                    log.warning(
                        "Endpoint %s rejected the request for role %s: %s (not retried elsewhere)",
                        endpoint.url,
                        role.role,
                        error.detail,
                    )
                    break
                more = len(tried) < len(role.endpoints)
                log.warning(
                    "Endpoint %s failed for role %s: %s; cooling down %.0f s%s",
                    endpoint.url,
                    role.role,
                    error.detail,
                    cooldown,
                    "; trying the next endpoint" if more else "",
                )
                continue
            pool.release(lease, served=True)
            self.registry.record_success(
                endpoint.url,
                reply.seconds,
                first_byte=reply.first_byte,
                tokens=reply.chunks,
                model=model,
            )
            log.info(
                "Generated %d characters from %s (attempt %d, %.2f s)",
                len(reply.text),
                endpoint.url,
                len(tried),
                reply.seconds,
            )
            return Generation(
                reply.text,
                model,
                role.role,
                endpoint.url,
                len(tried),
                time.monotonic() - started,
                tuple(failures),
            )
        apis = {endpoint.api or role.api for endpoint in role.endpoints}
        failed = AllEndpointsFailed(
            role.role,
            model,
            failures,
            "ollama" if "ollama" in apis else apis.pop(),
            self.config.source,
        )
        log.error("%s", failed)
        raise failed


def _headers(endpoint: Endpoint, keep_alive: bool) -> dict[str, str]:
    headers = endpoint.headers()
    return headers if keep_alive else {**headers, "Connection": "close"}
