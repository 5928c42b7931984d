"""The typed settings: frozen dataclasses the rest of the program reads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from .config_error import ConfigError

DEFAULT_BASE_URL = "http://localhost:11434"
ROLES = ("generator", "overseer", "evaluator", "escalation")
DEFAULT_MODELS = {
    "generator": "codellama",
    "overseer": "llama3",
    "evaluator": "llama3",
    "escalation": "llama3",
}
STRATEGIES = ("round_robin", "least_busy", "fastest")
APIS = ("ollama", "openai", "openai_completions")
OLLAMA_OPTION_KEYS = (
    "temperature",
    "num_ctx",
    "num_predict",
    "stop",
    "top_p",
    "top_k",
    "seed",
    "repeat_penalty",
    "num_gpu",
    "num_thread",
)
ENV_CONFIG = "CODE_EVOLVER_CONFIG"

Strategy = Literal["round_robin", "least_busy", "fastest"]


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed for each phase of one model request."""

    connect: float = 5.0
    first_byte: float = 300.0  # cold model loads take minutes before headers arrive
    idle: float = 60.0
    total: float = 1800.0


@dataclass(frozen=True)
class Cooldown:
    """How long a failing endpoint is skipped: base seconds, doubling per repeat, capped."""

    base: float = 5.0
    max: float = 300.0
    model_missing: float = 60.0


@dataclass(frozen=True)
class Routing:
    """How a role waits for a slot and learns what its servers have loaded."""

    queue_timeout: float = 600.0  # seconds a request may wait for a free slot
    probe_interval: float = 2.0  # seconds between background probes of cooling endpoints
    loaded_refresh: float = 30.0  # seconds between asks of what each server has loaded
    prefer_loaded: bool = True  # least_busy / fastest: skip servers that would load cold


@dataclass(frozen=True)
class Endpoint:
    """One server a role may send requests to."""

    url: str
    headers_env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    api: str | None = None  # None: the role's api
    key_env: str | None = None  # environment variable holding a bearer key
    weight: float = 1.0  # share of the role's requests within its tier
    priority: int = 0  # tier: lower first; the next only when this one is down or full
    # Requests sent at once; None (a plain URL) leaves queueing to the server, as before.
    max_parallel: int | None = None

    def headers(self) -> dict[str, str]:
        """Header values read from the environment now; missing variables are left out."""
        out: dict[str, str] = {}
        for name, var in self.headers_env.items():
            value = os.environ.get(var)
            if value:
                out[name] = value
        key = os.environ.get(self.key_env) if self.key_env else None
        if key:
            out["Authorization"] = f"Bearer {key}"
        return out


@dataclass(frozen=True)
class RoleSettings:
    """Everything the client needs to serve one role."""

    role: str
    model: str
    endpoints: tuple[Endpoint, ...]
    strategy: Strategy = "round_robin"
    api: str = "ollama"
    timeouts: Timeouts = Timeouts()
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    keep_alive: str | int | None = None
    endpoint_explicit: bool = False
    # Whether the config file (or the editor's overrides) names this role at all.
    written: bool = False
    routing: Routing = Routing()

    @property
    def urls(self) -> list[str]:
        return [e.url for e in self.endpoints]


@dataclass(frozen=True)
class FixSettings:
    max_attempts: int = 3
    run_timeout: float = 10.0
    output_limit: int = 200_000
    memory_limit_mb: int = 2048
    # Processes and threads a run may have at once (sandbox/process_limits.py says why 256).
    max_processes: int = 256
    # Replies asked for at once per round, as far as the generator's endpoints can serve them.
    candidates: int = 4
    # What runs read on standard input: the text itself, or the path of a file holding it.
    stdin: str | None = None
    # Runs have no network (a network namespace of their own) unless this is true.
    network: bool = False
    # "auto": namespaces where the probe finds them, else a scratch copy; "copy" forces the copy.
    isolation: str = "auto"


@dataclass(frozen=True)
class GenerateSettings:
    related_functions: int = 5
    # Both off by default: on SmolLM2 neither passed one stub more, and both cost time
    # (README, "Generate rate"); a stronger model may earn them back.
    use_overseer: bool = False
    write_tests: bool = False
    use_evaluator: bool = False
    max_attempts: int = 3
    # Candidates asked for at once per attempt (capped by the generator endpoints' capacity).
    candidates: int = 4


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration."""

    base_url: str = DEFAULT_BASE_URL
    roles: Mapping[str, RoleSettings] = field(default_factory=lambda: MappingProxyType({}))
    cooldown: Cooldown = Cooldown()
    fix: FixSettings = FixSettings()
    generate: GenerateSettings = GenerateSettings()
    run: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    test_command: tuple[str, ...] | None = None
    run_on_save: bool = False
    strip_secrets: bool = True
    # The project's interpreter for `{python}`; None: $VIRTUAL_ENV, .venv, venv, ... (sandbox/).
    python: str | None = None
    max_prompt_chars: int = 16_000
    max_output_chars: int = 200_000
    source: str | None = None

    def role(self, name: str) -> RoleSettings:
        try:
            return self.roles[name]
        except KeyError:
            known = ", ".join(self.roles)
            raise ConfigError(f"unknown role {name!r}; known roles: {known}") from None
