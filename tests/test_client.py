"""OllamaClient against real Ollama-protocol servers on loopback: rotation, failover, streaming."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from code_evolver import Cancelled, CancelToken, ConfigManager, OllamaClient
from code_evolver.llm import AllEndpointsFailed, HTTPStatusError
from conftest import role_config
from fake_ollama import FakeOllama

Factory = Callable[..., FakeOllama]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(
    write_config: Callable[..., Path],
    urls: dict[str, list[str]],
    clock: Callable[[], float] | None = None,
    **ollama: object,
) -> OllamaClient:
    config = ConfigManager(write_config(role_config(urls, **ollama)))
    if clock is None:
        return OllamaClient(config.ollama_url, config_manager=config)
    return OllamaClient(config.ollama_url, config_manager=config, clock=clock)


def served_by(client: OllamaClient, n: int, role: str = "generator") -> list[str]:
    return [client.generate_full(prompt=f"p{i}", model_key=role).endpoint for i in range(n)]


@pytest.mark.parametrize("count", [2, 3])
def test_round_robin_rotation_matches_the_seed(fake_factory: Factory, write_config, count):
    fakes = [fake_factory() for _ in range(count)]
    client = make_client(write_config, {"generator": [f.url for f in fakes]})
    order = served_by(client, 6)
    expected = [fakes[i % count].url for i in range(6)]
    assert order == expected
    assert client.endpoint_counters == {"generator": 6}
    assert [f.generate_count for f in fakes] == [6 // count] * count


def test_each_role_rotates_on_its_own_counter(fake_factory: Factory, write_config):
    a, b = fake_factory(), fake_factory()
    client = make_client(write_config, {"generator": [a.url, b.url], "overseer": [a.url, b.url]})
    first_gen = client.generate_full(prompt="x", model_key="generator").endpoint
    first_over = client.generate_full(prompt="x", model_key="overseer").endpoint
    second_gen = client.generate_full(prompt="x", model_key="generator").endpoint
    assert (first_gen, first_over, second_gen) == (a.url, a.url, b.url)
    assert client.endpoint_counters == {"generator": 2, "overseer": 1}


def test_old_and_new_formats_side_by_side(fake_factory: Factory, write_config):
    base, single, one, two = (fake_factory() for _ in range(4))
    text = f"""
ollama:
  base_url: "{base.url}"
  models:
    overseer:
      model: llama3
      endpoint: "{single.url}"
    evaluator:
      model: llama3
      endpoint: null
    escalation:
      model: "codellama:13b"
    generator:
      model: codellama
      endpoints: ["{one.url}", "{two.url}"]
"""
    config = ConfigManager(write_config(text))
    assert config.get_model_endpoints("overseer") == [single.url]
    assert config.get_model_endpoints("evaluator") == [base.url]
    assert config.get_model_endpoints("escalation") == [base.url]
    assert config.get_model_endpoints("generator") == [one.url, two.url]
    assert config.role("escalation").model == "codellama:13b"
    client = OllamaClient(config.ollama_url, config_manager=config)
    assert client.generate(prompt="x", model_key="overseer") == "print('hello')"
    assert client.generate(prompt="x", model_key="evaluator")
    assert client.generate(model="codellama", prompt="x")  # no model_key: ollama.base_url
    assert single.generate_count == 1
    assert base.generate_count == 2
    assert base.requests[-1].body["model"] == "codellama"


@pytest.mark.parametrize(
    ("mode", "kwargs"),
    [
        ("refuse", {}),
        ("status", {"code": 500}),
        ("status", {"code": 503}),
        ("status", {"code": 404}),
        ("break", {}),
        ("error_line", {}),
        ("garbage", {}),
        ("hang", {}),
        ("idle", {}),
        ("huge", {}),
        ("drip", {"interval": 0.1}),
        ("slow_accept", {"delay": 3}),
    ],
)
def test_failures_that_another_endpoint_may_not_have_fail_over(
    fake_factory: Factory, write_config, caplog, mode, kwargs
):
    bad, good = fake_factory(), fake_factory()
    good.replies = ["def ok(): pass"]
    bad.fail(mode, **kwargs)
    config = role_config({"generator": [bad.url, good.url]})
    config["ollama"]["timeouts"] = {"connect": 2, "first_byte": 1, "idle": 1, "total": 2}
    config["max_output_chars"] = 5000
    manager = ConfigManager(write_config(config))
    client = OllamaClient(manager.ollama_url, config_manager=manager)
    with caplog.at_level(logging.INFO, logger="code_evolver.llm"):
        result = client.generate_full(prompt="x", model_key="generator")
    assert result.text == "def ok(): pass"
    assert result.endpoint == good.url
    assert result.attempts == 2
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1 and bad.url in warning[0]
    assert client.status()[0].endpoints[0].state in ("cooling", "model missing")


def test_bad_request_does_not_fail_over(fake_factory: Factory, write_config):
    bad, good = fake_factory(), fake_factory()
    bad.fail("status", code=400)
    client = make_client(write_config, {"generator": [bad.url, good.url]})
    with pytest.raises(AllEndpointsFailed) as info:
        client.generate(prompt="x", model_key="generator")
    assert isinstance(info.value.failures[0], HTTPStatusError)
    assert info.value.failures[0].status == 400
    assert "invalid options" in str(info.value)
    assert good.generate_count == 0
    assert client.status()[0].endpoints[0].state == "ok"  # a 400 is not the server's fault


def test_on_text_restarts_with_the_next_endpoint_and_on_step_says_when(
    fake_factory: Factory, write_config
):
    broken, good = fake_factory(reply="def dead(): pass"), fake_factory(reply="def ok(): pass")
    broken.fail("break", after=2)
    client = make_client(write_config, {"generator": [broken.url, good.url]})
    events: list[tuple[str, str]] = []
    text = client.generate(
        prompt="x",
        model_key="generator",
        on_text=lambda piece: events.append(("text", piece)),
        on_step=lambda step: events.append(("step", step)),
    )
    assert text == "def ok(): pass"
    steps = [i for i, (kind, _) in enumerate(events) if kind == "step"]
    assert [events[i][1].rsplit(" at ", 1)[1] for i in steps] == [broken.url, good.url]
    first = "".join(piece for kind, piece in events[steps[0] : steps[1]] if kind == "text")
    after = "".join(piece for kind, piece in events[steps[1] :] if kind == "text")
    assert first and "def dead(): pass".startswith(first)
    assert after == text


def test_a_redirecting_endpoint_is_named_and_skipped(fake_factory: Factory, write_config):
    moved, good = fake_factory(), fake_factory()
    good.reply = "def ok(): pass"
    moved.fail("status", code=308, body="", headers={"Location": "https://gpu:11434/api/generate"})
    client = make_client(write_config, {"generator": [moved.url, good.url]})
    assert client.generate(prompt="x", model_key="generator") == "def ok(): pass"
    only = make_client(write_config, {"generator": [moved.url]})
    with pytest.raises(AllEndpointsFailed) as info:
        only.generate(prompt="x", model_key="generator")
    assert "redirects to https://gpu:11434/api/generate" in str(info.value)
    assert "put that URL in the config" in str(info.value)


def test_cooldown_skips_a_dead_endpoint_then_recovers(fake_factory: Factory, write_config):
    a, b, c = fake_factory(), fake_factory(), fake_factory()
    clock = FakeClock()
    client = make_client(
        write_config,
        {"generator": [a.url, b.url, c.url]},
        clock=clock,
        cooldown={"base": 10, "max": 100},
    )
    b.fail("refuse")
    served_by(client, 30)
    assert b.generate_count == 0
    assert client.status()[0].endpoints[1].requests == 1  # tried once, then skipped
    assert abs(a.generate_count - c.generate_count) <= 1
    b.fail(None)
    clock.now += 11
    order = served_by(client, 3)
    assert b.url in order
    assert client.status()[0].endpoints[1].state == "ok"


def test_repeated_failures_lengthen_the_cooldown(fake_factory: Factory, write_config):
    a, b = fake_factory(), fake_factory()
    clock = FakeClock()
    client = make_client(
        write_config, {"generator": [a.url, b.url]}, clock=clock, cooldown={"base": 10, "max": 25}
    )
    a.fail("status", code=500)
    seen = []
    for _ in range(4):
        served_by(client, 2)
        seen.append(client.status()[0].endpoints[0].cooling_for)
        clock.now += seen[-1] + 0.5
    assert seen == [10, 20, 25, 25]


def test_when_every_endpoint_is_cooling_all_are_tried(fake_factory: Factory, write_config):
    a, b = fake_factory(), fake_factory()
    client = make_client(write_config, {"generator": [a.url, b.url]})
    a.fail("status", code=503)
    b.fail("status", code=503)
    with pytest.raises(AllEndpointsFailed):
        client.generate(prompt="x", model_key="generator")
    a.fail(None)
    b.fail(None)
    assert {e.state for e in client.status()[0].endpoints} == {"cooling"}
    assert client.generate(prompt="x", model_key="generator") == "print('hello')"


def test_all_failed_error_lists_each_endpoint_and_the_fix(fake_factory: Factory, write_config):
    a, b = fake_factory(), fake_factory()
    a.fail("refuse")
    b.fail("status", code=500)
    client = make_client(write_config, {"generator": [a.url, b.url]})
    with pytest.raises(AllEndpointsFailed) as info:
        client.generate(prompt="x", model_key="generator")
    message = str(info.value)
    assert f"{a.url}: connection refused" in message
    assert f"{b.url}: HTTP 500: llama runner process has terminated" in message
    assert "ollama serve" in message and "ollama pull codellama" in message
    assert "11434" in message


def test_the_one_sentence_names_the_config_file_that_was_loaded(fake_factory, write_config):
    dead = fake_factory()
    dead.fail("refuse")
    path = write_config(role_config({"generator": [dead.url]}), name="team.yaml")
    client = OllamaClient(config_manager=ConfigManager(path))
    with pytest.raises(AllEndpointsFailed) as info:
        client.generate(prompt="x", model_key="generator")
    assert info.value.summary.endswith(f"fix the endpoints in {path}.")
    client.close()


def test_model_missing_routes_the_role_elsewhere_but_keeps_the_server(
    fake_factory: Factory, write_config
):
    without = fake_factory(models=("llama3:latest",))
    with_it = fake_factory()
    client = make_client(
        write_config, {"generator": [without.url, with_it.url], "overseer": [without.url]}
    )
    assert {r for r in served_by(client, 4)} == {with_it.url}
    assert without.generate_count == 1  # asked once, answered 404, then skipped
    assert client.generate(prompt="x", model_key="overseer")  # llama3 is still served there
    states = {e.url: e.state for e in client.status()[0].endpoints}
    assert states[without.url] == "model missing"


def test_model_missing_everywhere_says_pull_it(fake_factory: Factory, write_config):
    a = fake_factory(models=("llama3:latest",))
    client = make_client(write_config, {"generator": [a.url]})
    with pytest.raises(AllEndpointsFailed) as info:
        client.generate(prompt="x", model_key="generator")
    assert "ollama pull codellama" in info.value.summary


def test_cancel_closes_the_stream(fake_factory: Factory, write_config):
    a = fake_factory()
    a.reply = "x" * 400
    a.chunk_delay = 0.05
    client = make_client(write_config, {"generator": [a.url]})
    token = CancelToken()
    got: list[str] = []

    def on_text(text: str) -> None:
        got.append(text)
        if len(got) == 3:
            token.cancel()

    with pytest.raises(Cancelled):
        client.generate(prompt="x", model_key="generator", on_text=on_text, cancel=token)
    assert a.wait_for(lambda: a.disconnects == 1, timeout=5)
    assert a.active == 0


def test_cancel_before_the_first_byte_closes_the_connection(fake_factory: Factory, write_config):
    a = fake_factory()
    a.fail("hang")
    client = make_client(write_config, {"generator": [a.url]})
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    with pytest.raises(Cancelled):
        client.generate(prompt="x", model_key="generator", cancel=token)
    assert a.wait_for(lambda: a.disconnects == 1, timeout=5)
    assert client.status()[0].endpoints[0].state == "ok"  # a cancel is not the server's fault


def test_streaming_delivers_text_in_order(fake_factory: Factory, write_config):
    a = fake_factory()
    a.reply = "def add(a, b):\n    return a + b\n"
    client = make_client(write_config, {"generator": [a.url]})
    pieces: list[str] = []
    text = client.generate(prompt="x", model_key="generator", on_text=pieces.append)
    assert len(pieces) > 3
    assert "".join(pieces) == text == a.reply


def test_chat_uses_the_same_routing(fake_factory: Factory, write_config):
    a, b = fake_factory(), fake_factory()
    client = make_client(write_config, {"overseer": [a.url, b.url]})
    for _ in range(2):
        assert client.chat(messages=[{"role": "user", "content": "hi"}], model_key="overseer")
    assert [r.path for r in a.requests + b.requests] == ["/api/chat", "/api/chat"]
    assert a.requests[0].body["messages"] == [{"role": "user", "content": "hi"}]
    assert a.requests[0].body["model"] == "llama3"


def test_connections_are_kept_alive(fake_factory: Factory, write_config):
    a = fake_factory()
    client = make_client(write_config, {"generator": [a.url]})
    served_by(client, 10)
    assert a.connections == 1


def test_fifty_threads_see_fair_rotation_and_exact_counters(fake_factory: Factory, write_config):
    a, b = fake_factory(), fake_factory()
    client = make_client(write_config, {"generator": [a.url, b.url]})
    barrier = threading.Barrier(50)
    results: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        barrier.wait()
        endpoint = client.generate_full(prompt="x", model_key="generator").endpoint
        with lock:
            results.append(endpoint)

    threads = [threading.Thread(target=work) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.endpoint_counters == {"generator": 50}
    assert Counter(results) == {a.url: 25, b.url: 25}
    assert all(e.in_flight == 0 for e in client.status()[0].endpoints)


def test_least_busy_prefers_the_idle_endpoint(fake_factory: Factory, write_config):
    slow, fast = fake_factory(), fake_factory()
    slow.latency = 1.0
    config = role_config({"generator": [slow.url, fast.url]})
    config["ollama"]["models"]["generator"]["strategy"] = "least_busy"
    manager = ConfigManager(write_config(config))
    client = OllamaClient(manager.ollama_url, config_manager=manager)
    blocker = threading.Thread(target=lambda: client.generate(model_key="generator", prompt="x"))
    # Occupy whichever endpoint comes first until the slow one is busy.
    blocker.start()
    slow.wait_for(lambda: slow.active == 1 or fast.generate_count == 1, timeout=5)
    if slow.active == 1:
        assert {
            client.generate_full(prompt="x", model_key="generator").endpoint for _ in range(5)
        } == {fast.url}
    blocker.join()
    assert all(e.in_flight == 0 for e in client.status()[0].endpoints)


def test_headers_come_from_the_environment_and_stay_out_of_errors(
    fake_factory: Factory, write_config, monkeypatch
):
    a = fake_factory()
    monkeypatch.setenv("OLLAMA_PROXY_TOKEN", "Bearer s3cret-value")
    config = role_config({})
    config["ollama"]["models"]["generator"]["endpoints"] = [
        {"url": a.url, "headers_env": {"Authorization": "OLLAMA_PROXY_TOKEN"}}
    ]
    manager = ConfigManager(write_config(config))
    client = OllamaClient(manager.ollama_url, config_manager=manager)
    client.generate(prompt="x", model_key="generator")
    assert a.requests[-1].headers.get("Authorization") == "Bearer s3cret-value"
    a.fail("status", code=500)
    with pytest.raises(AllEndpointsFailed) as info:
        client.generate(prompt="x", model_key="generator")
    assert "s3cret" not in str(info.value)


def test_requests_failing_in_one_outage_count_once(fake_factory: Factory, write_config):
    hanging, good = fake_factory(), fake_factory()
    hanging.fail("hang")
    config = role_config({"generator": [hanging.url, good.url]}, cooldown={"base": 5, "max": 300})
    config["ollama"]["timeouts"]["first_byte"] = 1
    manager = ConfigManager(write_config(config))
    client = OllamaClient(manager.ollama_url, config_manager=manager)
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        client.generate(prompt="x", model_key="generator")

    # Four requests start before the endpoint is known bad; round robin sends two there.
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status = client.status()[0].endpoints[0]
    assert status.failures == 2
    assert status.state == "cooling" and status.cooling_for <= 5
