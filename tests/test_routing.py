"""Routing rules against real Ollama-protocol servers on loopback: tiers, weights, slots, the
queue, affinity, loaded models and background recovery. Assertions are on which endpoint served
and in what order, never on durations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from code_evolver import Cancelled, CancelToken, ConfigManager, OllamaClient
from code_evolver.config import ConfigError
from code_evolver.llm import rotation
from code_evolver.llm.errors import QueueTimeout
from code_evolver.status import render_status
from conftest import role_config
from fake_ollama import FakeOllama

Factory = Callable[..., FakeOllama]


def routed_client(write_config, endpoints: list[dict[str, Any]], **role: Any) -> OllamaClient:
    config = role_config({})
    config["ollama"]["models"]["generator"].update(endpoints=endpoints, **role)
    # A request held by the fake ("hang") is released by the test, never by a timeout, even
    # when the whole suite shares the CPU.
    config["ollama"]["timeouts"] = {"connect": 2, "first_byte": 30, "idle": 10, "total": 60}
    manager = ConfigManager(write_config(config))
    return OllamaClient(manager.ollama_url, config_manager=manager)


class Background(threading.Thread):
    """A request in its own thread; `error` is what it raised, if anything."""

    def __init__(self, client: OllamaClient, prompt: str, **kw: Any) -> None:
        super().__init__(daemon=True)
        self.client, self.prompt, self.kw = client, prompt, kw
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.client.generate(prompt=self.prompt, model_key="generator", **self.kw)
        except BaseException as exc:  # kept for the test to look at
            self.error = exc


def in_background(client: OllamaClient, prompt: str, **kw: Any) -> Background:
    thread = Background(client, prompt, **kw)
    thread.start()
    return thread


def generator(client: OllamaClient):
    return next(r for r in client.status() if r.role == "generator")


def test_the_first_tier_serves_until_it_is_full_or_down(fake_factory: Factory, write_config):
    gpu, cpu = fake_factory(name="gpu"), fake_factory(name="cpu")
    client = routed_client(
        write_config,
        [
            {"url": cpu.url, "priority": 1, "max_parallel": 4},
            {"url": gpu.url, "priority": 0, "max_parallel": 1},
        ],
    )
    served = [client.generate_full(prompt="x", model_key="generator").endpoint for _ in range(5)]
    assert served == [gpu.url] * 5
    gpu.fail("hang")  # holds the GPU's only slot
    holder = in_background(client, "long")
    assert gpu.wait_for(lambda: gpu.active == 1 or gpu.generate_count == 6)
    assert client.generate_full(prompt="x", model_key="generator").endpoint == cpu.url
    gpu.fail(None)
    holder.join(10)
    gpu.fail("refuse")
    result = client.generate_full(prompt="x", model_key="generator")
    assert (result.endpoint, result.attempts) == (cpu.url, 2)
    assert client.generate_full(prompt="x", model_key="generator").endpoint == cpu.url


@pytest.mark.parametrize("strategy", ["round_robin", "least_busy"])
def test_weights_split_a_thousand_requests(fake_factory: Factory, write_config, strategy):
    heavy, light = fake_factory(), fake_factory()
    client = routed_client(
        write_config,
        [
            {"url": heavy.url, "weight": 3, "max_parallel": 4},
            {"url": light.url, "weight": 1, "max_parallel": 4},
        ],
        strategy=strategy,
    )
    served = Counter(
        client.generate_full(prompt="x", model_key="generator").endpoint for _ in range(1000)
    )
    assert abs(served[heavy.url] - 750) <= 50 and abs(served[light.url] - 250) <= 50


@pytest.mark.parametrize("strategy", ["round_robin", "least_busy", "fastest"])
def test_slots_are_never_exceeded(fake_factory: Factory, write_config, strategy):
    a, b = fake_factory(), fake_factory()
    for fake in (a, b):
        fake.latency = 0.05  # long enough for requests to overlap
    client = routed_client(
        write_config,
        [
            {"url": a.url, "max_parallel": 2},
            {"url": b.url, "max_parallel": 1},
        ],
        strategy=strategy,
    )
    threads = [in_background(client, f"p{i}") for i in range(16)]
    for t in threads:
        t.join(30)
    assert a.generate_count + b.generate_count == 16
    assert a.peak_active <= 2 and b.peak_active <= 1
    assert all(e.slots_in_use == 0 for e in generator(client).endpoints)


def test_the_queue_serves_in_arrival_order(fake_factory: Factory, write_config):
    only = fake_factory()
    only.fail("hang", times=1)  # the first request holds the slot until released
    client = routed_client(write_config, [{"url": only.url, "max_parallel": 1}])
    threads = [in_background(client, "p0")]
    assert only.wait_for(lambda: only.generate_count == 1)
    for i in range(1, 6):
        threads.append(in_background(client, f"p{i}"))
        assert only.wait_for(lambda n=i: generator(client).queued == n)
    assert "5 queued" in render_status(client.status())
    only.fail(None)  # releases p0; the queue drains one request at a time
    for t in threads:
        t.join(30)
    assert [t.error for t in threads] == [None] * 6
    prompts = [r.body["prompt"] for r in only.requests if r.path == "/api/generate"]
    assert prompts == [f"p{i}" for i in range(6)]
    assert only.peak_active == 1


def test_a_request_gives_up_after_the_queue_timeout(fake_factory: Factory, write_config):
    only = fake_factory()
    only.fail("hang", times=1)
    client = routed_client(write_config, [{"url": only.url, "max_parallel": 1}], queue_timeout=0.3)
    holder = in_background(client, "holder")
    assert only.wait_for(lambda: only.generate_count == 1)
    with pytest.raises(QueueTimeout) as info:
        client.generate(prompt="late", model_key="generator")
    assert "queue_timeout" in str(info.value)
    assert only.generate_count == 1  # the late request was never sent
    only.fail(None)
    holder.join(10)


def test_a_session_stays_on_its_endpoint_while_it_has_a_slot(fake_factory: Factory, write_config):
    fakes = [fake_factory() for _ in range(3)]
    client = routed_client(write_config, [{"url": f.url, "max_parallel": 2} for f in fakes])

    def serve(session: str | None = None) -> str:
        return client.generate_full(prompt="x", model_key="generator", session=session).endpoint

    first = serve("fix-1")
    others = [serve() for _ in range(4)]
    assert len(set(others)) == 3  # the rotation goes on for everyone else
    assert [serve("fix-1") for _ in range(4)] == [first] * 4
    chat = client.chat_full(
        messages=[{"role": "user", "content": "hi"}], model_key="generator", session="fix-1"
    )
    assert chat.endpoint == first
    # Its endpoint full: the session goes elsewhere rather than wait.
    home = next(f for f in fakes if f.url == first)
    home.fail("hang", times=2)
    holders = [in_background(client, "hold", session="fix-1") for _ in range(2)]
    assert home.wait_for(lambda: generator(client).endpoints[fakes.index(home)].slots_in_use == 2)
    assert serve("fix-1") != first
    home.fail(None)
    for t in holders:
        t.join(10)


@pytest.mark.parametrize("strategy", ["least_busy", "fastest"])
def test_servers_without_the_model_loaded_are_avoided(
    fake_factory: Factory, write_config, strategy
):
    cold, warm = fake_factory(name="cold"), fake_factory(name="warm")
    cold.cold_load = 3.0
    warm.loaded = ["codellama"]
    client = routed_client(
        write_config,
        [
            {"url": cold.url, "max_parallel": 2},
            {"url": warm.url, "max_parallel": 2},
        ],
        strategy=strategy,
    )
    served = {client.generate_full(prompt="x", model_key="generator").endpoint for _ in range(6)}
    assert served == {warm.url}
    assert cold.generate_count == 0
    assert any(r.path == "/api/ps" for r in cold.requests)
    assert "loaded: codellama:latest" in render_status(client.status())


def test_a_cooling_endpoint_recovers_in_the_background(fake_factory: Factory, write_config):
    flaky, steady = fake_factory(), fake_factory()
    config = role_config(
        {"generator": [flaky.url, steady.url]},
        cooldown={"base": 600, "max": 600},
        probe_interval=0.1,
    )
    manager = ConfigManager(write_config(config))
    client = OllamaClient(manager.ollama_url, config_manager=manager)
    flaky.fail("refuse")
    result = client.generate_full(prompt="x", model_key="generator")
    assert (result.endpoint, result.attempts) == (steady.url, 2)
    assert generator(client).endpoints[0].state == "cooling"
    flaky.fail(None)
    # Only the background probe can end a 600 s cooldown this soon.
    assert flaky.wait_for(lambda: generator(client).endpoints[0].state == "ok", timeout=20)
    assert flaky.generate_count == 0
    assert {r.path for r in flaky.requests} == {"/api/tags"}
    results = [client.generate_full(prompt="x", model_key="generator") for _ in range(2)]
    assert flaky.url in {r.endpoint for r in results}
    assert all(r.attempts == 1 for r in results)
    client.close()


def test_a_probe_does_not_free_a_server_whose_runner_fails(fake_factory: Factory, write_config):
    broken, steady = fake_factory(), fake_factory()
    config = role_config(
        {"generator": [broken.url, steady.url]},
        cooldown={"base": 600, "max": 600},
        probe_interval=0.1,
    )
    client = OllamaClient(config_manager=ConfigManager(write_config(config)))
    broken.fail("status", code=500)  # /api/tags still answers: a probe proves nothing
    client.generate(prompt="x", model_key="generator")
    client.monitor.wake()
    assert not broken.wait_for(lambda: generator(client).endpoints[0].state == "ok", timeout=0.5)
    assert all(r.path != "/api/tags" for r in broken.requests)
    client.close()


def test_the_rotation_carries_over_between_runs(fake_factory: Factory, write_config, tmp_path):
    a, b, c = fake_factory(), fake_factory(), fake_factory()
    path = tmp_path / "rotation.json"
    manager = ConfigManager(write_config(role_config({"generator": [a.url, b.url, c.url]})))
    served = []
    for _ in range(4):  # four fresh clients, as four CLI runs would make
        client = OllamaClient(manager.ollama_url, config_manager=manager)
        rotation.restore(client, path)
        served.append(client.generate_full(prompt="x", model_key="generator").endpoint)
        rotation.save(client, path)
        client.close()
    assert served == [a.url, b.url, c.url, a.url]
    changed = ConfigManager(write_config(role_config({"generator": [c.url, a.url]}), "other.yaml"))
    client = OllamaClient(changed.ollama_url, config_manager=changed)
    rotation.restore(client, path)  # another endpoint list: starts at its first again
    assert client.generate_full(prompt="x", model_key="generator").endpoint == c.url


def test_cli_runs_in_a_loop_spread_their_load(fake_factory: Factory, write_config, tmp_path):
    a, b = fake_factory(), fake_factory()
    a.reply = b.reply = "```python\nprint(1)\n```"
    # One model request per run: one candidate, no overseer, no model-written tests.
    config = write_config(
        {
            **role_config({"generator": [a.url, b.url]}),
            "generate": {"candidates": 1, "related_functions": 0},
        }
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for _ in range(4):
        proc = subprocess.run(
            [sys.executable, "-m", "code_evolver", "generate", "--config", str(config), "one"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
    assert (a.generate_count, b.generate_count) == (2, 2)
    state = json.loads((tmp_path / "cache" / "code-evolver" / "rotation.json").read_text())
    assert state["generator"]["endpoints"] == [a.url, b.url]


def test_status_shows_tiers_weights_slots_and_loaded_models(fake_factory: Factory, write_config):
    a, b = fake_factory(), fake_factory()
    a.loaded = ["codellama"]
    client = routed_client(
        write_config,
        [
            {"url": a.url, "priority": 0, "weight": 2, "max_parallel": 2},
            {"url": b.url, "priority": 1},
        ],
        strategy="fastest",
    )
    client.generate(prompt="x", model_key="generator")
    text = render_status(client.status())
    assert "tier 0, weight 2, slots 0/2, loaded: codellama:latest" in text
    assert "tier 1, weight 1, slots 0/1, loaded: none" in text
    assert client.routing_summary() == {"inUse": 0, "slots": 3, "queued": 0}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"weight": 0}, "weight: expected a number above 0"),
        ({"priority": -1}, "priority: expected a whole number from 0 to 1000"),
        ({"max_parallel": 0}, "max_parallel: expected a whole number from 1 to 1024"),
        ({"slots": 2}, "slots"),
    ],
)
def test_bad_routing_keys_name_the_key(write_config, entry, message):
    config = role_config({})
    config["ollama"]["models"]["generator"]["endpoints"] = [{"url": "http://127.0.0.1:9", **entry}]
    with pytest.raises(ConfigError) as info:
        ConfigManager(write_config(config))
    assert message in str(info.value)
    assert "endpoints[0]" in str(info.value)


def test_plain_urls_keep_no_client_side_limit(write_config):
    manager = ConfigManager(write_config(role_config({"generator": ["http://127.0.0.1:9"]})))
    endpoint = manager.settings.roles["generator"].endpoints[0]
    assert (endpoint.max_parallel, endpoint.weight, endpoint.priority) == (None, 1.0, 0)
    mapped = role_config({})
    mapped["ollama"]["models"]["generator"]["endpoints"] = [{"url": "http://127.0.0.1:9"}]
    endpoint = ConfigManager(write_config(mapped)).settings.roles["generator"].endpoints[0]
    assert endpoint.max_parallel == 1  # Ollama's own OLLAMA_NUM_PARALLEL default


def test_the_fake_loads_a_model_once_and_lists_it_in_ps(fake_factory: Factory, write_config):
    fake = fake_factory()
    fake.cold_load = 0.2
    client = OllamaClient(
        config_manager=ConfigManager(write_config(role_config({"generator": [fake.url]})))
    )
    assert client.loaded_models(fake_factory_endpoint(fake)) == []
    threads = [in_background(client, f"p{i}") for i in range(3)]
    for t in threads:
        t.join(10)
    assert fake.generate_count == 3
    assert client.loaded_models(fake_factory_endpoint(fake)) == ["codellama:latest"]
    fake.loaded = []
    assert fake.loaded == []


def fake_factory_endpoint(fake: FakeOllama):
    from code_evolver.config import Endpoint

    return Endpoint(fake.url)


def test_doctor_shows_slots_and_loaded_models(fake_factory: Factory, write_config):
    a, b = fake_factory(), fake_factory()
    a.loaded = ["codellama"]
    config = role_config({"overseer": [a.url], "evaluator": [a.url]})
    config["ollama"]["models"]["generator"].update(
        strategy="fastest",
        endpoints=[
            {"url": a.url, "max_parallel": 2, "priority": 0},
            {"url": b.url, "max_parallel": 1, "priority": 1},
        ],
    )
    proc = subprocess.run(
        [sys.executable, "-m", "code_evolver", "doctor", "--config", str(write_config(config))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"ok    {a.url}; tier 0, slots 0/2, loaded: codellama:latest" in proc.stdout
    assert f"ok    {b.url}; tier 1, slots 0/1, loaded: none" in proc.stdout
    assert not any(r.path in ("/api/generate", "/api/chat") for r in a.requests + b.requests)


def test_routing_keys_are_inherited_from_the_ollama_section(write_config):
    config = role_config({}, queue_timeout=5, probe_interval=1, prefer_loaded=False)
    config["ollama"]["models"]["overseer"]["queue_timeout"] = 9
    settings = ConfigManager(write_config(config)).settings
    assert settings.roles["generator"].routing.queue_timeout == 5
    assert settings.roles["generator"].routing.probe_interval == 1
    assert settings.roles["generator"].routing.prefer_loaded is False
    assert settings.roles["overseer"].routing.queue_timeout == 9


def test_cancelling_a_queued_request_sends_nothing_and_frees_its_place(
    fake_factory: Factory, write_config
):
    only = fake_factory()
    only.fail("hang", times=1)
    client = routed_client(write_config, [{"url": only.url, "max_parallel": 1}])
    holder = in_background(client, "holder")
    assert only.wait_for(lambda: only.generate_count == 1)
    token = CancelToken()
    outcome: list[BaseException] = []

    def queued() -> None:
        try:
            client.generate(prompt="queued", model_key="generator", cancel=token)
        except BaseException as exc:  # kept for the assertions below
            outcome.append(exc)

    waiter = threading.Thread(target=queued, daemon=True)
    waiter.start()
    assert only.wait_for(lambda: generator(client).queued == 1)
    token.cancel()
    waiter.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)
    assert generator(client).queued == 0
    only.fail(None)
    holder.join(10)
    assert holder.error is None
    assert client.generate_full(prompt="after", model_key="generator").endpoint == only.url
    prompts = [r.body["prompt"] for r in only.requests if r.path == "/api/generate"]
    assert prompts == ["holder", "after"]
    assert generator(client).endpoints[0].slots_in_use == 0


def test_the_background_thread_ends_when_nothing_is_left_to_check(
    fake_factory: Factory, write_config
):
    flaky, steady = fake_factory(), fake_factory()
    config = role_config(
        {"generator": [flaky.url, steady.url]},
        cooldown={"base": 600, "max": 600},
        probe_interval=0.1,
    )
    client = OllamaClient(config_manager=ConfigManager(write_config(config)))

    def running() -> bool:  # this client's thread, not another test's in the same worker
        thread = client.monitor._thread
        return thread is not None and thread.is_alive()

    assert not running()
    flaky.fail("refuse")
    client.generate(prompt="x", model_key="generator")
    assert flaky.wait_for(running, timeout=5)
    flaky.fail(None)
    assert flaky.wait_for(lambda: not running(), timeout=20)
    assert generator(client).endpoints[0].state == "ok"
    client.close()
