"""The typed settings: frozen dataclasses the rest of the program reads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from .errors import ConfigError

DEFAULT_BASE_URL = "http://localhost:11434"
ROLES = ("generator", "overseer", "evaluator", "escalation")
DEFAULT_MODELS = {
    "generator": "codellama",
    "overseer": "llama3",
    "evaluator": "llama3",
    "escalation": "llama3",
}
STRATEGIES = ("round_robin", "least_busy")
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

Strategy = Literal["round_robin", "least_busy"]


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
class Endpoint:
    """One server a role may send requests to."""

    url: str
    headers_env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    api: str | None = None  # None: the role's api
    key_env: str | None = None  # environment variable holding a bearer key

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

    @property
    def urls(self) -> list[str]:
        return [e.url for e in self.endpoints]


@dataclass(frozen=True)
class FixSettings:
    max_attempts: int = 3
    run_timeout: float = 10.0
    output_limit: int = 200_000
    memory_limit_mb: int = 2048


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
    max_prompt_chars: int = 16_000
    max_output_chars: int = 200_000
    source: str | None = None

    def role(self, name: str) -> RoleSettings:
        try:
            return self.roles[name]
        except KeyError:
            known = ", ".join(self.roles)
            raise ConfigError(f"unknown role {name!r}; known roles: {known}") from None
