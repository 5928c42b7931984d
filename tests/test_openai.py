"""OpenAI-compatible endpoints: same routing, failover and cancellation as Ollama's API."""

from __future__ import annotations

import subprocess
import sys

import pytest

from code_evolver import Cancelled, CancelToken, ConfigManager, OllamaClient
from code_evolver.llm import AllEndpointsFailed, ModelNotFound, PromptTooLong, StreamError
from code_evolver.llm.openai_api import parse_event
from conftest import role_config


def openai_client(write_config, *endpoints, key_env=None, api="openai"):
    config = role_config({})
    config["ollama"]["api"] = api
    config["ollama"]["models"]["generator"]["endpoints"] = [
        {"url": url, **({"key_env": key_env} if key_env else {})} for url in endpoints
    ]
    manager = ConfigManager(write_config(config))
    return OllamaClient(manager.ollama_url, config_manager=manager)


def test_chat_completions_stream_and_rotate(fake_factory, write_config):
    a, b = fake_factory(reply="def f():\n    return 1\n"), fake_factory()
    client = openai_client(write_config, a.url, b.url)
    pieces: list[str] = []
    first = client.generate_full(prompt="write f", model_key="generator", on_text=pieces.append)
    second = client.generate_full(prompt="write g", model_key="generator")
    assert first.text == "def f():\n    return 1\n" and len(pieces) > 3
    assert (first.endpoint, second.endpoint) == (a.url, b.url)
    request = a.requests[-1]
    assert request.path == "/v1/chat/completions"
    assert request.body["messages"] == [{"role": "user", "content": "write f"}]
    assert request.body["stream"] is True


def test_options_map_to_openai_names(fake, write_config):
    config = role_config({"generator": [fake.url]})
    config["ollama"]["api"] = "openai_completions"
    config["ollama"]["options"] = {"temperature": 0.3, "num_predict": 99, "num_ctx": 4096}
    manager = ConfigManager(write_config(config))
    OllamaClient(config_manager=manager).generate(prompt="x", model_key="generator")
    body = fake.requests[-1].body
    assert fake.requests[-1].path == "/v1/completions"
    assert (body["temperature"], body["max_tokens"]) == (0.3, 99)
    assert "num_ctx" not in body and "options" not in body


def test_openai_errors_fail_over_like_ollamas(fake_factory, write_config):
    broken, missing, good = fake_factory(), fake_factory(models=("other",)), fake_factory()
    broken.fail("error_line")
    client = openai_client(write_config, broken.url, missing.url, good.url)
    result = client.generate_full(prompt="x", model_key="generator")
    assert result.endpoint == good.url
    kinds = [type(f) for f in result.failures]
    assert kinds == [StreamError, ModelNotFound]
    assert "unexpected EOF" in result.failures[0].detail


@pytest.mark.parametrize(
    "error",
    [
        # llama.cpp's server
        {
            "code": 400,
            "type": "exceed_context_size_error",
            "n_prompt_tokens": 5210,
            "n_ctx": 4096,
            "message": "the request exceeds the available context size, try increasing it",
        },
        # vLLM, worded as OpenAI words it
        {
            "type": "BadRequestError",
            "code": 400,
            "message": "This model's maximum context length is 4096 tokens. However, you requested "
            "5210 tokens (5010 in the messages, 200 in the completion).",
        },
    ],
)
def test_a_prompt_longer_than_the_context_names_the_setting(fake, write_config, error):
    fake.fail("status", code=400, body={"error": error})
    client = openai_client(write_config, fake.url)
    with pytest.raises(AllEndpointsFailed) as caught:
        client.generate_full(prompt="x" * 50, model_key="generator")
    assert [type(f) for f in caught.value.failures] == [PromptTooLong]
    summary = caught.value.summary
    assert fake.url in summary and "max_prompt_chars" in summary and "--ctx-size" in summary
    assert len(fake.requests) == 1  # a 400 is not retried, and the endpoint stays usable
    fake.fail(None)
    assert client.generate_full(prompt="x", model_key="generator").endpoint == fake.url


def test_a_plain_bad_request_stays_a_plain_rejection(fake, write_config):
    fake.fail("status", code=400, body={"error": {"message": "unknown field: foo"}})
    client = openai_client(write_config, fake.url)
    with pytest.raises(AllEndpointsFailed) as caught:
        client.generate_full(prompt="x", model_key="generator")
    assert "rejected" in caught.value.summary and "unknown field: foo" in caught.value.summary
    assert "max_prompt_chars" not in caught.value.summary


def test_bearer_key_comes_from_the_environment(fake, write_config, monkeypatch):
    monkeypatch.setenv("LOCAL_LLM_KEY", "sk-local-123")
    client = openai_client(write_config, fake.url, key_env="LOCAL_LLM_KEY")
    client.generate(prompt="x", model_key="generator")
    assert fake.requests[-1].headers["Authorization"] == "Bearer sk-local-123"
    fake.fail("status", code=500)
    with pytest.raises(AllEndpointsFailed) as info:
        client.generate(prompt="x", model_key="generator")
    assert "sk-local" not in str(info.value)
    # The advice fits the server: no `ollama serve` for an OpenAI-compatible endpoint.
    assert "ollama" not in str(info.value).lower()
    assert "/v1/models" in str(info.value)
    assert "start the model server" in info.value.summary


def test_cancel_closes_an_openai_stream(fake, write_config):
    fake.reply = "y" * 300
    fake.chunk_delay = 0.05
    client = openai_client(write_config, fake.url)
    token = CancelToken()

    def on_text(_: str) -> None:
        token.cancel()

    with pytest.raises(Cancelled):
        client.generate(prompt="x", model_key="generator", on_text=on_text, cancel=token)
    assert fake.wait_for(lambda: fake.disconnects == 1)


def test_ollama_and_openai_endpoints_in_one_role(fake_factory, write_config):
    native, compatible = fake_factory(), fake_factory()
    config = role_config({})
    config["ollama"]["models"]["generator"]["endpoints"] = [
        native.url,
        {"url": compatible.url, "api": "openai"},
    ]
    manager = ConfigManager(write_config(config))
    client = OllamaClient(config_manager=manager)
    for _ in range(2):
        client.generate(prompt="x", model_key="generator")
    assert [r.path for r in native.requests] == ["/api/generate"]
    assert [r.path for r in compatible.requests] == ["/v1/chat/completions"]


def test_doctor_probes_v1_models(fake, write_config):
    config = role_config({"generator": [fake.url], "overseer": [fake.url], "evaluator": [fake.url]})
    config["ollama"]["api"] = "openai"
    path = write_config(config)
    proc = subprocess.run(
        [sys.executable, "-m", "code_evolver", "doctor", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [r.path for r in fake.requests] == ["/v1/models"]


@pytest.mark.parametrize(
    ("line", "text", "done"),
    [
        (b'data: {"choices":[{"delta":{"content":"hi"},"finish_reason":null}]}', "hi", False),
        (b'data: {"choices":[{"text":"x","finish_reason":"length"}]}', "x", True),
        (b"data: [DONE]", "", True),
    ],
)
def test_parse_event(line, text, done):
    chunk = parse_event(line, "http://e")
    assert chunk is not None and (chunk.text, chunk.done) == (text, done)


@pytest.mark.parametrize("line", [b"", b": keep-alive", b"event: ping", b'data: {"choices":[]}'])
def test_parse_event_skips_empty_events(line):
    assert parse_event(line, "http://e") is None


def test_a_base_url_written_with_v1_at_the_end_works(fake, write_config):
    """OpenAI client libraries write `http://host:port/v1`; users paste it that way."""
    client = openai_client(write_config, f"{fake.url}/v1/")
    reply = client.generate_full(prompt="write f", model_key="generator")
    assert reply.endpoint == fake.url
    assert [r.path for r in fake.requests if r.method == "POST"] == ["/v1/chat/completions"]
