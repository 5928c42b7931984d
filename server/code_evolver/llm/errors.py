"""The ways a model request can fail, each naming the endpoint and whether another may succeed."""

from __future__ import annotations

from collections.abc import Sequence

FIX_HINT = (
    "Check that Ollama is running there (`ollama serve`), that the model is pulled "
    "(`ollama pull {model}`), and that no firewall blocks port 11434; "
    "`code-evolver doctor` checks every endpoint."
)
OPENAI_FIX_HINT = (
    "Check that the OpenAI-compatible server is running there and serves a model for "
    "'{model}' (its /v1/models lists it), and that no firewall blocks its port; "
    "`code-evolver doctor` checks every endpoint."
)


class LLMError(Exception):
    """A model request failed. `retryable` says whether another endpoint may succeed."""

    retryable = True
    reason = "failed"

    def __init__(self, detail: str, *, endpoint: str | None = None) -> None:
        self.detail = detail
        self.endpoint = endpoint
        super().__init__(f"{endpoint}: {detail}" if endpoint else detail)


class EndpointUnreachable(LLMError):
    """Connection refused, reset or the host name did not resolve."""

    reason = "unreachable"


class EndpointTimeout(LLMError):
    """No answer in time; `phase` is connect, first_byte, idle or total."""

    reason = "timeout"

    def __init__(
        self, detail: str, *, endpoint: str | None = None, phase: str = "first_byte"
    ) -> None:
        self.phase = phase
        super().__init__(detail, endpoint=endpoint)


class HTTPStatusError(LLMError):
    """The server answered with an error status and Ollama's `{"error": ...}` text."""

    reason = "http error"

    def __init__(self, status: int, message: str, *, endpoint: str | None = None) -> None:
        self.status = status
        self.message = message
        # A bad request is bad everywhere; anything else may be this server's trouble alone.
        self.retryable = status != 400 and not (
            400 < status < 500 and status not in (404, 408, 429)
        )
        super().__init__(f"HTTP {status}: {message}", endpoint=endpoint)


class ModelNotFound(HTTPStatusError):
    """The endpoint does not have the model pulled."""

    reason = "model missing"

    def __init__(self, model: str, message: str, *, endpoint: str | None = None) -> None:
        self.model = model
        super().__init__(404, message, endpoint=endpoint)


class PromptTooLong(HTTPStatusError):
    """The server refused a prompt longer than its model's context (llama.cpp, vLLM; Ollama
    cuts such a prompt short instead)."""

    reason = "prompt longer than the model's context"


class StreamError(LLMError):
    """The stream broke or carried an `{"error"}` line after it began."""

    reason = "stream error"


class MalformedReply(LLMError):
    """The reply is not Ollama's JSON (a proxy page, garbage, a wrong server)."""

    reason = "malformed reply"


class OutputTooLarge(LLMError):
    """The reply went past the output cap and was cut off."""

    reason = "output too large"


class QueueTimeout(LLMError):
    """Every slot of a role stayed busy for `queue_timeout` seconds; nothing was sent."""

    reason = "every slot busy"

    def __init__(self, role: str, waited: float, slots: int) -> None:
        self.role = role
        super().__init__(
            f"all {slots} slot(s) of role '{role}' stayed busy for {waited:.0f} s "
            "(queue_timeout); add endpoints, raise max_parallel where a server has room, "
            "or raise queue_timeout"
        )


class AllEndpointsFailed(LLMError):
    """Every endpoint of a role failed; the message lists each one and why."""

    reason = "all endpoints failed"

    def __init__(
        self,
        role: str,
        model: str,
        failures: Sequence[LLMError],
        api: str = "ollama",
        config: str | None = None,
    ) -> None:
        self.api = api
        self.config = config or "config.yaml"  # the loaded file, for the advice
        self.role = role
        self.model = model
        self.failures = list(failures)
        self.retryable = any(f.retryable for f in failures)
        lines = [f"All {len(failures)} endpoint(s) for role '{role}' (model '{model}') failed:"]
        lines += [f"  - {f.endpoint}: {f.detail}" for f in failures]
        if self.retryable:
            hint = FIX_HINT if api == "ollama" else OPENAI_FIX_HINT
            lines.append(hint.format(model=model))
        super().__init__("\n".join(lines))

    @property
    def summary(self) -> str:
        """One sentence for a notification."""
        kinds = sorted({f.reason for f in self.failures})
        where = ", ".join(f.endpoint or "?" for f in self.failures)
        ollama = self.api == "ollama"
        if kinds == ["model missing"] and not ollama:
            return f"No server at {where} serves model '{self.model}': check its /v1/models."
        if kinds == ["model missing"]:
            return (
                f"Model '{self.model}' is not pulled on {where}: run "
                f"`ollama pull {self.model}` there."
            )
        if kinds == [PromptTooLong.reason]:
            return (
                f"The prompt is longer than the model's context at {where}: lower "
                f"max_prompt_chars in {self.config}, or give that server a larger context "
                "(llama.cpp: --ctx-size; vLLM: --max-model-len)."
            )
        if self.retryable and not ollama:
            return (
                f"No endpoint for '{self.role}' could answer ({', '.join(kinds)} at {where}): "
                f"start the model server or fix the endpoints in {self.config}."
            )
        if self.retryable:
            return (
                f"No endpoint for '{self.role}' could answer ({', '.join(kinds)} at {where}): "
                f"start Ollama (`ollama serve`) or fix the endpoints in {self.config}."
            )
        return f"The model request was rejected by {where}: {self.failures[-1].detail}"
