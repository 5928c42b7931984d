"""What the language server keeps between requests: settings, client, trust, per-document facts."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cancel import CancelToken
from ..config import ConfigError, ConfigManager
from ..llm import OllamaClient
from ..pipeline.extract import split_lines
from ..pipeline.stubs import Stub, stub_near

log = logging.getLogger("code_evolver.lsp")

MAX_WORKSPACE_FILES = 300
MAX_FILE_BYTES = 256 * 1024
SKIP_DIRS = {
    ".git",
    ".hg",
    ".venv",
    "venv",
    "env",
    "node_modules",
    "__pycache__",
    ".tox",
    "build",
    "dist",
    ".mypy_cache",
    ".pytest_cache",
    "site-packages",
}


@dataclass
class DocumentFacts:
    """What the lightbulb learned about one version of a document: the stub at each line."""

    version: int | None
    lines: list[str]
    stubs: dict[int, Stub | None]


class ServerState:
    """Settings, the model client and caches; replaced parts are swapped under a lock."""

    def __init__(self, config_path: str | None = None) -> None:
        self.cli_config_path = config_path
        self.config_path: str | None = config_path
        self.overrides: Mapping[str, Any] = {}
        self.trusted = True
        self.workspace_root: str = os.getcwd()
        self.client_supports_resolve = False
        self.client_supports_progress = False
        self.client_supports_document_changes = False
        self.client_supports_create = False
        self.config = ConfigManager.defaults()
        self.client = OllamaClient(config_manager=self.config)
        # Jobs mostly wait on models and runs; enough threads that fixes queue at the models.
        self.jobs = ThreadPoolExecutor(max_workers=32, thread_name_prefix="code-evolver-job")
        self._facts: dict[str, DocumentFacts] = {}
        self._lock = threading.Lock()
        self.in_flight = 0
        self.pending_problem: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        # Cancel switches of work in flight, so shutdown can stop streams and kill children.
        self.active: set[CancelToken] = set()
        # Run diagnostics this server published, per URI, as plain LSP JSON.
        self.published: dict[str, list[dict[str, Any]]] = {}

    # ------------------------------------------------------------ settings

    def load(self, options: Mapping[str, Any] | None) -> str | None:
        """Apply initializationOptions / settings; returns a problem sentence, or None."""
        options = options or {}
        if "workspaceTrusted" in options:
            self.trusted = bool(options.get("workspaceTrusted"))
        path = options.get("configPath") or self.cli_config_path
        overrides = options.get("overrides") or {}
        problem = None
        if path and not self.trusted and self._inside_workspace(str(path)):
            # An untrusted workspace's config could name commands to run: never read it.
            problem = (
                f"Ignored {path}: it is inside an untrusted workspace. Trust the "
                "workspace to use it."
            )
            path = None
        if not isinstance(overrides, Mapping):
            overrides = {}
            problem = "Ignored codeEvolver overrides: they must be an object of config keys."
        try:
            config = ConfigManager(path, overrides, discover=True)
        except ConfigError as exc:
            problem = f"Config problem, using built-in defaults until fixed: {exc}"
            config = ConfigManager.defaults()
        self.config_path = path
        self.overrides = overrides
        self._swap(config)
        return problem

    def _swap(self, config: ConfigManager) -> None:
        old = self.client
        client = OllamaClient(config_manager=config)
        with self._lock:
            self.config, self.client = config, client
        old.close()

    def _inside_workspace(self, path: str) -> bool:
        try:
            Path(path).resolve().relative_to(Path(self.workspace_root).resolve())
        except ValueError:
            return False
        return True

    # ------------------------------------------------------------ documents

    def stub_at(self, uri: str, version: int | None, source: str, line: int) -> Stub | None:
        """The stub at `line`, worked out once per document version and line."""
        with self._lock:
            facts = self._facts.get(uri)
            fresh = facts is None or facts.version != version or version is None
        if fresh:
            facts = DocumentFacts(version, split_lines(source), {})
            with self._lock:
                self._facts[uri] = facts
        assert facts is not None
        if line in facts.stubs:
            return facts.stubs[line]
        found = stub_near(facts.lines, line)
        with self._lock:
            facts.stubs[line] = found
        return found

    def forget(self, uri: str) -> None:
        with self._lock:
            self._facts.pop(uri, None)

    def workspace_sources(self, open_docs: Mapping[str, str]) -> dict[str, str]:
        """Python sources of the workspace for the related-function search (open files win)."""
        sources: dict[str, str] = {}
        count = 0
        for directory, dirs, files in os.walk(self.workspace_root):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(directory, name)
                count += 1
                if count > MAX_WORKSPACE_FILES:
                    break
                try:
                    if os.path.getsize(path) > MAX_FILE_BYTES:
                        continue
                    with open(path, encoding="utf-8") as handle:
                        sources[path] = handle.read()
                except (OSError, UnicodeDecodeError):
                    continue
        sources.update(open_docs)
        return sources

    def close(self, wait: float = 10.0) -> None:
        """Stop all work: cancel it, wait a little for children to be killed, close sockets."""
        for token in list(self.active):
            token.cancel()
        self.jobs.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + wait
        while self.active and time.monotonic() < deadline:
            time.sleep(0.05)
        self.client.close()
