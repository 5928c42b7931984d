"""Routing with real llama.cpp servers: a fix session's cache affinity, and LiteLLM's proxy in
front of both servers as a team's one shared endpoint.

Time to first token is measured and reported (`-s`, or the junit properties), never asserted:
the assertions are on which server served.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import conftest
from code_evolver import ConfigManager, OllamaClient
from samples import BUGGY

pytestmark = pytest.mark.real_model

KEY_ENV = "CODE_EVOLVER_TEST_LITELLM_KEY"
# A long shared prefix, as the attempts of one fix share the program and its traceback.
PREFIX_LINES = 60


def long_prefix() -> str:
    tag = uuid.uuid4().hex  # a prefix no server has seen, whatever ran before
    body = "\n".join(
        f"def helper_{i}(x):\n    return x * {i} + {i % 7}" for i in range(PREFIX_LINES)
    )
    return f"# session {tag}\n{body}\n\nThe program above fails with a NameError. Fix it.\n"


def first_token_time(client: OllamaClient, prompt: str, session: str | None) -> tuple[str, float]:
    started = time.monotonic()
    first: list[float] = []

    def on_text(_: str) -> None:
        if not first:
            first.append(time.monotonic() - started)

    result = client.generate_full(
        prompt=prompt,
        model_key="generator",
        options={"num_predict": 8},
        on_text=on_text,
        session=session,
    )
    return result.endpoint, first[0] if first else result.seconds


@pytest.mark.real_model
def test_a_fix_session_stays_on_the_server_that_cached_its_prompt(
    real_servers, real_client, record_property
):
    urls = real_servers.urls
    client = real_client([{"url": url, "max_parallel": 1} for url in urls])
    prefix = long_prefix()
    home, cold_first = first_token_time(client, prefix + "Attempt 1.", "fix-1")
    same, warm_again = first_token_time(client, prefix + "Attempt 2.", "fix-1")
    assert same == home  # the second attempt goes where the prefix is cached
    # What the rotation alone would have done: attempt 2 on the other server.
    other_client = real_client([u for u in urls if u != home] + [home])
    other, elsewhere = first_token_time(other_client, prefix + "Attempt 2.", None)
    assert other != home
    record_property("ttft_first_attempt_s", round(cold_first, 3))
    record_property("ttft_same_server_s", round(warm_again, 3))
    record_property("ttft_other_server_s", round(elsewhere, 3))
    print(
        f"\ntime to first token: attempt 1 {cold_first:.2f} s; attempt 2 on the same server "
        f"{warm_again:.2f} s, on the other server {elsewhere:.2f} s"
    )


# ---------------------------------------------------------------- LiteLLM's proxy as a gateway


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _proxy_missing() -> str | None:
    if shutil.which("litellm") is None and not Path(sys.executable).with_name("litellm").exists():
        return "the litellm command"
    # Finding litellm.proxy imports litellm, which fetches a price list unless told not to.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    for module in ("litellm.proxy", "fastapi", "uvicorn", "uvloop", "websockets", "apscheduler"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            return f"LiteLLM's proxy extras ({module})"
    return None


@pytest.fixture
def litellm_proxy(real_servers, tmp_path: Path, monkeypatch) -> Iterator[str]:
    """LiteLLM's proxy on loopback in front of both llama.cpp servers; yields its URL."""
    missing = _proxy_missing()
    if missing:
        pytest.skip(
            f"{missing} not installed; install with: pip install -e '.[gateway]' "
            "(LiteLLM's proxy server and the modules it imports)"
        )
    config = {
        "model_list": [
            {
                "model_name": "smollm2",
                "litellm_params": {
                    "model": "openai/smollm2",
                    "api_base": f"{url}/v1",
                    "api_key": "none",
                },
            }
            for url in real_servers.urls
        ],
        "router_settings": {"routing_strategy": "least-busy"},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }
    path = tmp_path / "litellm.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = _free_port()
    command = shutil.which("litellm") or str(Path(sys.executable).with_name("litellm"))
    # The proxy refuses to start without a master key; Code Evolver sends it via key_env.
    key = f"sk-{uuid.uuid4().hex}"
    monkeypatch.setenv(KEY_ENV, key)
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_MASTER_KEY": key,
        "NO_PROXY": "127.0.0.1",
    }
    log = (tmp_path / "litellm.log").open("wb")
    proc = subprocess.Popen(
        [command, "--config", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            ask = urllib.request.Request(
                f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}
            )
            try:
                with urllib.request.urlopen(ask, timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = (tmp_path / "litellm.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"LiteLLM's proxy did not start:\n{tail}")
            time.sleep(0.5)
        yield url  # Code Evolver adds /v1/chat/completions itself
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cwd / "cache")}
    return conftest.run_cli(*args, cwd=cwd, env=env, timeout=600)


@pytest.mark.real_model
def test_generate_and_fix_through_the_litellm_proxy(litellm_proxy, real_config, tmp_path):
    config = real_config([{"url": litellm_proxy, "max_parallel": 2, "key_env": KEY_ENV}])
    client = OllamaClient(config_manager=ConfigManager(config))
    reply = client.generate_full(
        prompt="Write add(a, b) in Python.", model_key="generator", options={"num_predict": 48}
    )
    assert reply.text.strip() and reply.endpoint == litellm_proxy
    client.close()
    generated = run_cli("generate", "--config", str(config), "add two numbers", cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout.strip()
    program = tmp_path / "buggy.py"
    program.write_text(BUGGY, encoding="utf-8")
    fixed = run_cli("fix", "--config", str(config), str(program), cwd=tmp_path)
    # 0: a fix was found; 1: the tiny model found none. Either way every request got a reply.
    assert fixed.returncode in (0, 1), fixed.stderr
    assert f"at {litellm_proxy}" in fixed.stderr
    assert "endpoint(s) for role" not in fixed.stderr
