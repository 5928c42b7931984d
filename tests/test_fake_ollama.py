"""Tests for the fake Ollama server, driven with plain `requests`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import requests

from fake_ollama import FakeOllama, start_fakes

GEN = {"model": "codellama", "prompt": "write hello"}


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(name="f") as f:
        yield f
        assert f.errors == []


def lines(resp: requests.Response) -> list[dict]:
    return [json.loads(line) for line in resp.iter_lines() if line]


def test_info_endpoints(fake: FakeOllama) -> None:
    assert requests.get(fake.url, timeout=5).text == "Ollama is running"
    assert requests.get(f"{fake.url}/api/version", timeout=5).json() == {"version": "0.5.7"}
    tags = requests.get(f"{fake.url}/api/tags", timeout=5).json()
    assert [m["name"] for m in tags["models"]] == ["codellama:latest", "llama3:latest"]
    assert requests.get(f"{fake.url}/api/ps", timeout=5).json() == {"models": []}
    requests.post(f"{fake.url}/api/generate", json={**GEN, "stream": False}, timeout=5)
    ps = requests.get(f"{fake.url}/api/ps", timeout=5).json()
    assert [m["name"] for m in ps["models"]] == ["codellama:latest"]


def test_stream_generate_and_chat_over_one_connection(fake: FakeOllama) -> None:
    fake.reply = "def add(a, b):\n    return a + b\n"
    with requests.Session() as s:
        r = s.post(f"{fake.url}/api/generate", json=GEN, stream=True, timeout=5)
        assert r.headers["Content-Type"] == "application/x-ndjson"
        got = lines(r)
        assert len(got) > 3 and all(not x["done"] for x in got[:-1])
        assert "".join(x["response"] for x in got) == fake.reply
        assert got[-1]["done_reason"] == "stop" and got[-1]["eval_count"] == len(got) - 1
        chat = {"model": "llama3:latest", "messages": [{"role": "user", "content": "hi"}]}
        got = lines(s.post(f"{fake.url}/api/chat", json=chat, stream=True, timeout=5))
        assert {x["message"]["role"] for x in got} == {"assistant"}
        assert "".join(x["message"]["content"] for x in got) == fake.reply
        s.post(f"{fake.url}/api/generate", json={**GEN, "stream": False}, timeout=5)
    assert fake.connections == 1  # keep-alive: all three on one TCP connection
    assert [r.path for r in fake.requests] == ["/api/generate", "/api/chat", "/api/generate"]
    assert fake.requests[1].body == chat and fake.generate_count == 3


def test_scripted_replies_reply_fn_and_unknown_model(fake: FakeOllama) -> None:
    fake.replies = ["one", "two"]
    url = f"{fake.url}/api/generate"
    texts = [
        requests.post(url, json={**GEN, "stream": False}, timeout=5).json()["response"]
        for _ in range(3)
    ]
    assert texts == ["one", "two", "print('hello')"]
    fake.reply_fn = lambda body: body["prompt"].upper()
    assert requests.post(url, json={**GEN, "stream": False}, timeout=5).json()["response"] == (
        "WRITE HELLO"
    )
    r = requests.post(url, json={"model": "mistral", "prompt": "x"}, timeout=5)
    assert r.status_code == 404
    assert r.json() == {"error": 'model "mistral" not found, try pulling it first'}


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (503, "server busy, please try again.  maximum pending requests exceeded"),
        (500, "llama runner process has terminated: signal: killed"),
        (400, "invalid options: foo"),
        (499, "request canceled"),
    ],
)
def test_status_failure_applies_times_then_recovers(fake: FakeOllama, code: int, text: str) -> None:
    fake.replies = ["kept"]
    fake.fail("status", code=code, times=2)
    url = f"{fake.url}/api/generate"
    for _ in range(2):
        r = requests.post(url, json=GEN, timeout=5)
        assert (r.status_code, r.json()) == (code, {"error": text})
    assert requests.get(f"{fake.url}/api/tags", timeout=5).ok  # only generation paths fail
    r = requests.post(url, json={**GEN, "stream": False}, timeout=5)
    assert r.json()["response"] == "kept"  # failed requests did not use up the scripted reply


def test_refuse_then_recover_on_same_port(fake: FakeOllama) -> None:
    port = fake.port
    fake.fail("refuse")
    with pytest.raises(requests.ConnectionError):
        requests.get(fake.url, timeout=5)
    fake.fail(None)
    assert fake.port == port
    assert requests.get(fake.url, timeout=5).text == "Ollama is running"


def test_break_and_error_line(fake: FakeOllama) -> None:
    url = f"{fake.url}/api/generate"
    fake.fail("break", after=2, times=1)
    seen: list[dict] = []
    r = requests.post(url, json=GEN, stream=True, timeout=5)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for line in r.iter_lines():
            seen.append(json.loads(line))
    assert len(seen) == 2 and not any(x["done"] for x in seen)
    fake.fail("error_line", after=1, times=1)
    got = lines(requests.post(url, json=GEN, stream=True, timeout=5))
    assert len(got) == 2 and "error" in got[-1]
    assert got[-1]["error"].startswith("an error was encountered while running the model")
    assert lines(requests.post(url, json=GEN, stream=True, timeout=5))[-1]["done"] is True
    assert fake.disconnects == 0  # the fake hung up, not the client


def test_garbage_and_hang_with_client_timeout(fake: FakeOllama) -> None:
    url = f"{fake.url}/api/generate"
    fake.fail("garbage", times=1)
    r = requests.post(url, json=GEN, timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html"
    with pytest.raises(ValueError):
        r.json()
    fake.fail("hang")
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(url, json=GEN, timeout=(5, 0.3))
    assert fake.wait_for(lambda: fake.disconnects == 1)  # the fake noticed the client leaving


def test_fail_none_releases_a_request_held_by_a_hang_that_times_used_up(
    fake: FakeOllama,
) -> None:
    fake.fail("hang", times=1)
    replies: list[int] = []
    held = threading.Thread(
        target=lambda: replies.append(
            requests.post(f"{fake.url}/api/generate", json=GEN, timeout=30).status_code
        )
    )
    held.start()
    assert fake.wait_for(lambda: fake.generate_count == 1)
    fake.fail(None)
    held.join(10)
    assert replies == [200]  # answered normally once released, not at the client's timeout


@pytest.mark.parametrize(
    ("mode", "kw"), [("drip", {"interval": 0.01}), ("idle", {}), ("huge", {}), (None, {})]
)
def test_client_closing_stream_is_counted(fake: FakeOllama, mode: str | None, kw: dict) -> None:
    fake.chunk_delay = 0.05 if mode is None else 0.0
    fake.reply = "x" * 400
    fake.fail(mode, **kw)
    r = requests.post(f"{fake.url}/api/generate", json=GEN, stream=True, timeout=5)
    assert r.status_code == 200
    assert next(r.iter_content(chunk_size=1))  # at least one byte arrived
    r.close()
    assert fake.wait_for(lambda: fake.disconnects == 1)
    assert fake.wait_for(lambda: fake.active == 0)


def test_max_concurrent_serialises_generations(fake: FakeOllama) -> None:
    fake.max_concurrent = 1
    fake.latency = 0.05
    results: list[str] = []

    def call() -> None:
        body = {**GEN, "stream": False}
        r = requests.post(f"{fake.url}/api/generate", json=body, timeout=10)
        results.append(r.json()["response"])

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == ["print('hello')"] * 4
    assert fake.peak_active == 1


def test_stop_with_requests_in_flight_leaves_no_threads() -> None:
    fakes = start_fakes(2)
    assert [f.name for f in fakes] == ["fake0", "fake1"] and fakes[0].port != fakes[1].port
    errors: list[type] = []

    def call(url: str) -> None:
        try:
            requests.post(f"{url}/api/generate", json=GEN, timeout=30)
        except requests.RequestException as exc:
            errors.append(type(exc))

    fakes[0].fail("hang")
    fakes[1].fail("drip", interval=0.01)
    clients = [threading.Thread(target=call, args=(f.url,)) for f in fakes]
    for t in clients:
        t.start()
    assert all(f.wait_for(lambda f=f: f.generate_count == 1) for f in fakes)
    for f in fakes:
        f.stop()
    for t in clients:
        t.join(10)
    assert len(errors) == 2
    alive = [t.name for t in threading.enumerate() if t.name.startswith("fake-ollama")]
    assert alive == []
    assert all(f.disconnects == 0 and f.errors == [] for f in fakes)
