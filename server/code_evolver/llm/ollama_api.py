"""Ollama's native wire format: request bodies, NDJSON lines, and the error each line may carry."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from .errors import (
    HTTPStatusError,
    MalformedReply,
    ModelNotFound,
    PromptTooLong,
    StreamError,
)

_MODEL_MISSING = re.compile(r"model ['\"]?([^'\"]+?)['\"]? not found")
# How servers word a prompt longer than the context: llama.cpp ("exceeds the available
# context size"), vLLM and OpenAI ("maximum context length is 4096 tokens").
_PROMPT_TOO_LONG = re.compile(
    r"context (size|length|window)|maximum context|n_ctx|prompt is too long", re.IGNORECASE
)


class Chunk(NamedTuple):
    """One decoded stream line: new text, and whether the reply is complete."""

    text: str
    done: bool
    stats: Mapping[str, Any] | None = None


def generate_payload(
    model: str,
    prompt: str,
    *,
    system: str | None,
    options: Mapping[str, Any],
    keep_alive: str | int | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "prompt": prompt, "stream": True}
    if system:
        body["system"] = system
    if options:
        body["options"] = dict(options)
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    return body


def chat_payload(
    model: str,
    messages: Sequence[Mapping[str, str]],
    *,
    options: Mapping[str, Any],
    keep_alive: str | int | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [dict(m) for m in messages], "stream": True}
    if options:
        body["options"] = dict(options)
    if keep_alive is not None:
        body["keep_alive"] = keep_alive
    return body


def parse_line(raw: bytes, endpoint: str) -> Chunk:
    """Decode one NDJSON line of /api/generate or /api/chat."""
    try:
        data = json.loads(raw)
    except ValueError:
        preview = raw[:80].decode("utf-8", "replace")
        raise MalformedReply(
            f"the reply is not Ollama's JSON (starts with {preview!r}); is this an Ollama server?",
            endpoint=endpoint,
        ) from None
    if not isinstance(data, dict):
        raise MalformedReply("the reply is JSON but not an object", endpoint=endpoint)
    if "error" in data:
        raise StreamError(f"the model failed mid-reply: {data['error']}", endpoint=endpoint)
    if "response" in data:
        text = data["response"]
    elif isinstance(data.get("message"), dict):
        text = data["message"].get("content", "")
    elif "done" in data:
        text = ""
    else:
        raise MalformedReply("a reply line has neither 'response' nor 'message'", endpoint=endpoint)
    if not isinstance(text, str):
        raise MalformedReply("a reply line carries non-text output", endpoint=endpoint)
    done = bool(data.get("done"))
    return Chunk(text, done, data if done else None)


def classify_status(error: HTTPStatusError, model: str) -> HTTPStatusError:
    """Turn a 404 about the model into ModelNotFound so routing can avoid that endpoint, and a
    refusal of a too-long prompt into PromptTooLong, whose sentence names the setting."""
    if error.status == 404:
        match = _MODEL_MISSING.search(error.message)
        if match or "not found" in error.message:
            return ModelNotFound(model, error.message, endpoint=error.endpoint)
    if error.status in (400, 413) and _PROMPT_TOO_LONG.search(error.message):
        return PromptTooLong(error.status, error.message, endpoint=error.endpoint)
    return error


def tag_names(data: Any) -> list[str]:
    """Model names from a /api/tags reply."""
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list):
        raise MalformedReply("/api/tags did not list models; is this an Ollama server?")
    names = []
    for item in models:
        if isinstance(item, dict):
            name = item.get("name") or item.get("model")
            if isinstance(name, str):
                names.append(name)
    return names


def has_model(names: Sequence[str], model: str, api: str = "ollama") -> bool:
    """Whether `model` is among pulled `names`; 'codellama' matches 'codellama:latest'.

    An OpenAI-compatible server that lists a single model (llama.cpp) serves it whatever name
    a request uses, and lists it by file name.
    """
    wanted = model if ":" in model else f"{model}:latest"
    if any(n in (model, wanted) for n in names):
        return True
    return api != "ollama" and (len(names) == 1 or any(model in n for n in names))
