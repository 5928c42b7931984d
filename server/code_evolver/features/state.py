"""What the language server keeps between requests: settings, client, trust, per-document facts."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cancel import CancelToken
from ..config import ConfigError, ConfigManager
from ..pipeline.lines import split_lines
from ..pipeline.stubs import stub_near
from ..values import Stub
from ..worker.host import JobHost

log = logging.getLogger("code_evolver.lsp")


@dataclass
class DocumentFacts:
    """What the lightbulb learned about one version of a document: the stub at each line."""

    version: int | None
    lines: list[str]
    stubs: dict[int, Stub | None]


class ServerState:
    """Settings, the worker that runs jobs, and caches; replaced parts are swapped under a lock."""

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
        # Fixes, generations and runs happen in a process of their own (jobs/worker.py).
        self.worker = JobHost(on_health=self._health_changed)
        # The endpoints' health as the worker last reported it, and who wants to hear of it.
        self.health: dict[str, Any] | None = None
        self.health_listeners: list[Callable[[], None]] = []
        self._facts: dict[str, DocumentFacts] = {}
        self._lock = threading.Lock()
        self.in_flight = 0
        self.pending_problem: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        # Cancel switches of work in flight, so shutdown can stop streams and kill children.
        self.active: set[CancelToken] = set()
        # Run diagnostics this server published, per URI, as plain LSP JSON; and the cancel
        # switch of the run in flight per URI (a newer open or save stops an older run).
        self.published: dict[str, list[dict[str, Any]]] = {}
        self.runs: dict[str, CancelToken] = {}
        # Those runs go one at a time over all files. An editor may open many files at once
        # (restored tabs, a search's previews): the rest wait, and one closed or run again
        # meanwhile never starts. One, so they hold at most one of the runner's places (one
        # per core, at least two) and a fix's verifying run always finds one free.
        self.run_slot = asyncio.Semaphore(1)
        # Answers of codeAction/resolve per URI, for its latest document version only:
        # (version, {the action's data as JSON: the answer}); features/actions.py.
        self.resolved: dict[str, tuple[int | None, dict[str, Any]]] = {}

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
        with self._lock:
            self.config = config
        self.worker.configure(path, overrides, self.trusted)
        return problem

    def _health_changed(self, payload: dict[str, Any]) -> None:
        self.health = payload
        for listener in list(self.health_listeners):
            listener()

    def _inside_workspace(self, path: str) -> bool:
        try:
            Path(path).resolve().relative_to(Path(self.workspace_root).resolve())
        except ValueError:
            return False
        return True

    # ------------------------------------------------------------ documents

    def lines_of(self, uri: str, version: int | None, source: str) -> list[str]:
        """The document's lines (LSP rules, no line ends), split once per version."""
        return self._facts_of(uri, version, source).lines

    def _facts_of(self, uri: str, version: int | None, source: str) -> DocumentFacts:
        with self._lock:
            facts = self._facts.get(uri)
            fresh = facts is None or facts.version != version or version is None
        if fresh:
            facts = DocumentFacts(version, split_lines(source), {})
            with self._lock:
                self._facts[uri] = facts
        assert facts is not None
        return facts

    def stub_at(self, uri: str, version: int | None, source: str, line: int) -> Stub | None:
        """The stub at `line`, worked out once per document version and line."""
        facts = self._facts_of(uri, version, source)
        if line in facts.stubs:
            return facts.stubs[line]
        found = stub_near(facts.lines, line)
        with self._lock:
            facts.stubs[line] = found
        return found

    def forget(self, uri: str) -> None:
        with self._lock:
            self._facts.pop(uri, None)

    def close(self, wait: float = 10.0) -> None:
        """Stop all work: the worker cancels it, kills its children and exits (or is killed)."""
        for token in list(self.active):
            token.cancel()
        self.worker.close(wait)
