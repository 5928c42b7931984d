"""The LLM client: wire protocol, endpoint pool, errors."""

from .client import Generation, OllamaClient, ProbeResult, RoleStatus
from .errors import (
    AllEndpointsFailed,
    EndpointTimeout,
    EndpointUnreachable,
    HTTPStatusError,
    LLMError,
    MalformedReply,
    ModelNotFound,
    OutputTooLarge,
    PromptTooLong,
    StreamError,
)

__all__ = [
    "AllEndpointsFailed",
    "EndpointTimeout",
    "EndpointUnreachable",
    "Generation",
    "HTTPStatusError",
    "LLMError",
    "MalformedReply",
    "ModelNotFound",
    "OllamaClient",
    "OutputTooLarge",
    "ProbeResult",
    "PromptTooLong",
    "RoleStatus",
    "StreamError",
]
