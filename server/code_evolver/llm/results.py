"""What the client hands back: a finished reply, a role's status, a probe's answer."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import LLMError
from .pool import EndpointStatus


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
    queued: int = 0  # requests waiting for a free slot


@dataclass(frozen=True)
class ProbeResult:
    """What `/api/tags` said about one endpoint."""

    url: str
    ok: bool
    models: tuple[str, ...]
    error: str | None
    seconds: float
    api: str = "ollama"
