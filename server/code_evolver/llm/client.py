"""OllamaClient: sends each role's requests to its endpoints in turn and fails over."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..cancel import Cancelled, CancelToken
from ..config import ConfigManager, Endpoint, RoleSettings
from .dialects import DIALECTS, OllamaDialect, Request
from .errors import (
    AllEndpointsFailed,
    HTTPStatusError,
    LLMError,
    OutputTooLarge,
    StreamError,
)
from .pool import EndpointStatus, HealthRegistry, RolePool
from .transport import StreamLimits, Transport, reraise_unexpected

log = logging.getLogger("code_evolver.llm")

DEFAULT_ROLE = "default"
# The byte cap on a streamed reply, per character of max_output_chars: Ollama sends every token
# (often a single character) in a JSON line of about a hundred bytes.
BYTES_PER_CHARACTER = 128


@dataclass(frozen=True)
class Generation:
    """A finished reply and where it came from."""

    text: str
    model: str
    role: str
    endpoint: str
    attempts: int
    seconds: float
    failures: tuple[LLMError, ...] = ()


@dataclass(frozen=True)
class RoleStatus:
    role: str
    model: str
    strategy: str
    requests: int
    endpoints: tuple[EndpointStatus, ...]


@dataclass(frozen=True)
class ProbeResult:
    """What `/api/tags` said about one endpoint."""

    url: str
    ok: bool
    models: tuple[str, ...]
    error: str | None
    seconds: float
    api: str = "ollama"


# Called with a short step description whenever the client starts on an endpoint.
StepCallback = Callable[[str], None]


def _release(pool: RolePool, claim: list[str]) -> None:
    if claim:
        pool.release(claim.pop())


class OllamaClient:
    """Round-robin (or least-busy) client over each role's Ollama endpoints."""

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
    ) -> str:
        """Generate text for `prompt`; returns the whole reply."""
        return self.generate_full(
            model,
            prompt,
            model_key=model_key,
            system=system,
            options=options,
            on_text=on_text,
            on_step=on_step,
            cancel=cancel,
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
    ) -> Generation:
        pool = self._pool(model_key)
        role = pool.settings
        model_name = model or role.model

        def request(endpoint: Endpoint) -> Request:
            return self._dialect(endpoint, role).generate(
                model_name, prompt, system, self._options(role, options), role.keep_alive
            )

        return self._request(pool, model_name, request, on_text, on_step, cancel)

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
    ) -> Generation:
        pool = self._pool(model_key)
        role = pool.settings
        model_name = model or role.model

        def request(endpoint: Endpoint) -> Request:
            return self._dialect(endpoint, role).chat(
                model_name, messages, self._options(role, options), role.keep_alive
            )

        return self._request(pool, model_name, request, on_text, on_step, cancel)

    def status(self) -> list[RoleStatus]:
        """Every role with the health of each of its endpoints."""
        out = []
        for name, pool in self._pools.items():
            if name == DEFAULT_ROLE:
                continue
            role = pool.settings
            out.append(
                RoleStatus(
                    name,
                    role.model,
                    role.strategy,
                    pool.request_count,
                    tuple(self.registry.status(e.url, role.model) for e in role.endpoints),
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
        self, endpoint: Endpoint | str, timeout: float = 5.0, api: str = "ollama"
    ) -> ProbeResult:
        """Ask `/api/tags` (or `/v1/models`) which models an endpoint has; never a completion."""
        if isinstance(endpoint, str):
            endpoint = Endpoint(endpoint)
        dialect = DIALECTS[endpoint.api or api]
        started = time.monotonic()
        try:
            data = self.transport.get_json(
                endpoint.url, dialect.models_path, timeout=timeout, headers=endpoint.headers()
            )
            names = tuple(dialect.model_names(data))
        except LLMError as exc:
            return ProbeResult(
                endpoint.url, False, (), exc.detail, time.monotonic() - started, dialect.name
            )
        return ProbeResult(
            endpoint.url, True, names, None, time.monotonic() - started, dialect.name
        )

    def close(self) -> None:
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
    ) -> Generation:
        plan = pool.plan(model)
        claim = [plan[0].url]  # released once the first attempt is counted in flight
        try:
            return self._try_in_turn(pool, model, plan, request, on_text, on_step, cancel, claim)
        finally:
            _release(pool, claim)

    def _try_in_turn(
        self,
        pool: RolePool,
        model: str,
        plan: list[Endpoint],
        request: Callable[[Endpoint], Request],
        on_text: Callable[[str], None] | None,
        on_step: StepCallback | None,
        cancel: CancelToken | None,
        claim: list[str],
    ) -> Generation:
        role = pool.settings
        failures: list[LLMError] = []
        started = time.monotonic()
        for attempt, endpoint in enumerate(plan, start=1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            log.info(
                "Generating with model '%s' at %s... (role %s, attempt %d/%d)",
                model,
                endpoint.url,
                role.role,
                attempt,
                len(plan),
            )
            if on_step is not None:
                on_step(f"Generating with {model} at {endpoint.url}")
            try:
                text, seconds = self._send(
                    endpoint,
                    role,
                    model,
                    request(endpoint),
                    on_text,
                    cancel,
                    lambda: _release(pool, claim),
                )
            except Cancelled:
                log.info("Request to %s cancelled; connection closed", endpoint.url)
                raise
            except LLMError as error:
                failures.append(error)
                cooldown = self.registry.record_failure(endpoint.url, error, model)
                if not error.retryable:
                    log.warning(
                        "Endpoint %s rejected the request for role %s: %s (not retried elsewhere)",
                        endpoint.url,
                        role.role,
                        error.detail,
                    )
                    break
                nxt = plan[attempt].url if attempt < len(plan) else None
                log.warning(
                    "Endpoint %s failed for role %s: %s; cooling down %.0f s%s",
                    endpoint.url,
                    role.role,
                    error.detail,
                    cooldown,
                    f"; trying {nxt} next" if nxt else "",
                )
                continue
            self.registry.record_success(endpoint.url, seconds)
            log.info(
                "Generated %d characters from %s (attempt %d, %.2f s)",
                len(text),
                endpoint.url,
                attempt,
                seconds,
            )
            return Generation(
                text,
                model,
                role.role,
                endpoint.url,
                attempt,
                time.monotonic() - started,
                tuple(failures),
            )
        apis = {endpoint.api or role.api for endpoint in plan}
        failed = AllEndpointsFailed(
            role.role, model, failures, "ollama" if "ollama" in apis else apis.pop()
        )
        log.error("%s", failed)
        raise failed

    def _send(
        self,
        endpoint: Endpoint,
        role: RoleSettings,
        model: str,
        request: Request,
        on_text: Callable[[str], None] | None,
        cancel: CancelToken | None,
        counted: Callable[[], object],
    ) -> tuple[str, float]:
        limits = StreamLimits(
            role.timeouts, self.config.settings.max_output_chars * BYTES_PER_CHARACTER
        )
        started = time.monotonic()
        pieces: list[str] = []
        size = 0
        max_chars = self.config.settings.max_output_chars
        url = endpoint.url
        dialect = self._dialect(endpoint, role)
        with self.registry.track(url):
            counted()
            try:
                lines = self.transport.stream_lines(
                    url,
                    request.path,
                    request.body,
                    headers=endpoint.headers(),
                    limits=limits,
                    cancel=cancel,
                    line_parser=lambda raw: dialect.parse(raw, url),
                )
                # Closed on every way out, so an early exit (the character cap, a failing
                # on_text) closes the connection now instead of at garbage collection.
                with contextlib.closing(lines):
                    for chunk in lines:
                        if chunk is None:
                            continue
                        if chunk.text:
                            pieces.append(chunk.text)
                            size += len(chunk.text)
                            if size > max_chars:
                                raise OutputTooLarge(
                                    f"the reply passed {max_chars} characters (max_output_chars)",
                                    endpoint=url,
                                )
                            if on_text is not None:
                                on_text(chunk.text)
                        if chunk.done:
                            return "".join(pieces), time.monotonic() - started
            except HTTPStatusError as error:
                raise dialect.classify(error, model) from None
            except (LLMError, Cancelled):
                raise
            except Exception as exc:  # a transport surprise must still fail over, not crash
                raise reraise_unexpected(exc, url) from exc
        raise StreamError(
            "the stream ended before the reply was complete (no done line)", endpoint=url
        )
