"""Shared fixtures: Ollama-protocol servers on loopback and config files written for them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

import pytest_lsp
from pytest_lsp import LanguageClient

from fake_ollama import FakeOllama
from lsp_harness import SERVER, Editor
from sandbox_kit import MODES, use_mode


@pytest.fixture(params=MODES)
def isolation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test taking this runs with namespaces and again with the forced copy fallback."""
    use_mode(request.param, monkeypatch)
    return str(request.param)


@pytest.fixture
def fake_factory() -> Iterator[Callable[..., FakeOllama]]:
    """Start as many fake Ollama servers as a test needs; all are stopped afterwards."""
    started: list[FakeOllama] = []

    def make(**kwargs: Any) -> FakeOllama:
        fake = FakeOllama(**kwargs).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def fake(fake_factory: Callable[..., FakeOllama]) -> FakeOllama:
    return fake_factory()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config.yaml from a dict (or raw text) and return its path."""

    def write(data: dict[str, Any] | str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def role_config(
    urls: dict[str, list[str]], base_url: str = "http://127.0.0.1:9", **ollama: Any
) -> dict[str, Any]:
    """A config dict giving each role its endpoint list; fast timeouts for tests."""
    models: dict[str, Any] = {
        "generator": {"model": "codellama"},
        "overseer": {"model": "llama3"},
        "evaluator": {"model": "llama3"},
    }
    for role, role_urls in urls.items():
        models.setdefault(role, {})["endpoints"] = role_urls
    section = {
        "base_url": base_url,
        "timeouts": {"connect": 2, "first_byte": 5, "idle": 2, "total": 30},
        "models": models,
    }
    section.update(ollama)
    return {"ollama": section}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The real-model tier shares two model servers: keep it on one xdist worker."""
    for item in items:
        if item.get_closest_marker("real_model") is not None:
            item.add_marker(pytest.mark.xdist_group("real_model"))


@pytest_lsp.fixture(config=SERVER)
async def lsp(lsp_client: LanguageClient):
    """The language server over stdio with a real LSP client; shut down after the test."""
    yield lsp_client
    await lsp_client.shutdown_session()


@pytest.fixture
def editor(lsp: LanguageClient, tmp_path: Path) -> Editor:
    """An editor stand-in with an empty workspace folder."""
    root = tmp_path / "ws"
    root.mkdir()
    return Editor(lsp, root)


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`code-evolver ARGS` in a child process of this interpreter, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "code_evolver", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=None if env is None else dict(env),
        check=False,
    )
