"""Which wire format an endpoint speaks: request paths, bodies, stream lines, model lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import ollama_api, openai_api
from .errors import HTTPStatusError
from .ollama_api import Chunk


@dataclass(frozen=True)
class Request:
    path: str
    body: dict[str, Any]


class OllamaDialect:
    """Ollama's native API: /api/generate, /api/chat, NDJSON, /api/tags."""

    name = "ollama"
    models_path = "/api/tags"
    loaded_path = "/api/ps"  # models in memory now

    def generate(
        self,
        model: str,
        prompt: str,
        system: str | None,
        options: Mapping[str, Any],
        keep_alive: str | int | None,
    ) -> Request:
        return Request(
            "/api/generate",
            ollama_api.generate_payload(
                model, prompt, system=system, options=options, keep_alive=keep_alive
            ),
        )

    def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, str]],
        options: Mapping[str, Any],
        keep_alive: str | int | None,
    ) -> Request:
        return Request(
            "/api/chat",
            ollama_api.chat_payload(model, messages, options=options, keep_alive=keep_alive),
        )

    def parse(self, raw: bytes, endpoint: str) -> Chunk | None:
        return ollama_api.parse_line(raw, endpoint)

    def model_names(self, data: Any) -> list[str]:
        return ollama_api.tag_names(data)

    def classify(self, error: HTTPStatusError, model: str) -> HTTPStatusError:
        return ollama_api.classify_status(error, model)


class OpenAIDialect(OllamaDialect):
    """OpenAI-compatible servers: /v1/chat/completions (or /v1/completions), SSE, /v1/models."""

    name = "openai"
    models_path = "/v1/models"
    loaded_path = "/v1/models"  # all such a server says: it serves what it lists

    def __init__(self, completions: bool = False) -> None:
        self.completions = completions

    def generate(
        self,
        model: str,
        prompt: str,
        system: str | None,
        options: Mapping[str, Any],
        keep_alive: str | int | None,
    ) -> Request:
        if self.completions:
            text = f"{system}\n\n{prompt}" if system else prompt
            return Request(
                "/v1/completions", openai_api.completion_payload(model, text, options=options)
            )
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}
        ]
        return self.chat(model, messages, options, keep_alive)

    def chat(
        self,
        model: str,
        messages: Sequence[Mapping[str, str]],
        options: Mapping[str, Any],
        keep_alive: str | int | None,
    ) -> Request:
        return Request(
            "/v1/chat/completions", openai_api.chat_payload(model, messages, options=options)
        )

    def parse(self, raw: bytes, endpoint: str) -> Chunk | None:
        return openai_api.parse_event(raw, endpoint)

    def model_names(self, data: Any) -> list[str]:
        return openai_api.model_names(data)


DIALECTS: dict[str, OllamaDialect] = {
    "ollama": OllamaDialect(),
    "openai": OpenAIDialect(),
    "openai_completions": OpenAIDialect(completions=True),
}
