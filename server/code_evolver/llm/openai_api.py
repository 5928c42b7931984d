"""The OpenAI-compatible wire format (llama.cpp, LM Studio, vLLM, Ollama's /v1): SSE streams."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import MalformedReply, StreamError
from .ollama_api import Chunk

# Ollama option names and their OpenAI counterparts; the rest have no equivalent.
_OPTION_NAMES = {
    "temperature": "temperature",
    "num_predict": "max_tokens",
    "stop": "stop",
    "top_p": "top_p",
    "seed": "seed",
}


def _options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {_OPTION_NAMES[k]: v for k, v in options.items() if k in _OPTION_NAMES}


def chat_payload(
    model: str, messages: Sequence[Mapping[str, str]], *, options: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [dict(m) for m in messages],
        "stream": True,
        **_options(options),
    }


def completion_payload(model: str, prompt: str, *, options: Mapping[str, Any]) -> dict[str, Any]:
    return {"model": model, "prompt": prompt, "stream": True, **_options(options)}


def parse_event(raw: bytes, endpoint: str) -> Chunk | None:
    """Decode one line of a server-sent-event stream; None for lines that carry nothing."""
    line = raw.strip()
    if not line or line.startswith(b":"):
        return None
    if not line.startswith(b"data:"):
        if line.startswith((b"event:", b"id:", b"retry:")):
            return None
        return _whole_body(line, endpoint)
    data = line[5:].strip()
    if data == b"[DONE]":
        return Chunk("", True)
    try:
        event = json.loads(data)
    except ValueError:
        raise MalformedReply(
            "a stream event is not JSON; is this an OpenAI-compatible server?", endpoint=endpoint
        ) from None
    return _chunk(event, endpoint)


def _whole_body(line: bytes, endpoint: str) -> Chunk | None:
    """Some servers ignore `stream` and answer with one JSON object."""
    try:
        event = json.loads(line)
    except ValueError:
        preview = line[:80].decode("utf-8", "replace")
        raise MalformedReply(
            f"the reply is not an OpenAI-style stream (starts with {preview!r})", endpoint=endpoint
        ) from None
    chunk = _chunk(event, endpoint)
    return Chunk(chunk.text, True) if chunk is not None else None


def _chunk(event: Any, endpoint: str) -> Chunk | None:
    if not isinstance(event, dict):
        raise MalformedReply("a stream event is not a JSON object", endpoint=endpoint)
    error = event.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else error
        raise StreamError(f"the model failed mid-reply: {message}", endpoint=endpoint)
    choices = event.get("choices")
    if not isinstance(choices, list):
        raise MalformedReply("a stream event has no 'choices'", endpoint=endpoint)
    if not choices:
        return None  # usage-only events
    choice = choices[0] if isinstance(choices[0], dict) else {}
    delta = choice.get("delta") or choice.get("message") or {}
    text = delta.get("content") if isinstance(delta, dict) else None
    if text is None:
        text = choice.get("text") or ""
    if not isinstance(text, str):
        raise MalformedReply("a stream event carries non-text output", endpoint=endpoint)
    # finish_reason ends the choice, but servers still send [DONE]; stop at either.
    return Chunk(text, choice.get("finish_reason") is not None)


def model_names(data: Any) -> list[str]:
    """Model ids from a /v1/models reply."""
    models = data.get("data") if isinstance(data, dict) else None
    if not isinstance(models, list):
        raise MalformedReply("/v1/models did not list models; is this an OpenAI-compatible server?")
    return [m["id"] for m in models if isinstance(m, dict) and isinstance(m.get("id"), str)]
