"""A language server under test, driven over stdio by pygls's LanguageClient like an editor.

Used by editor_latency.py and server_load.py. The client answers what the server asks of an
editor (workspace/applyEdit, window/workDoneProgress/create) and swallows its notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pytest_lsp import client_capabilities

from benchlib import BENCH

OURS = [sys.executable, "-m", "code_evolver", "lsp"]
BARE = [sys.executable, str(BENCH / "bare_server.py")]


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB, from /proc/<pid>/status."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def thread_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return -1


def children(pid: int) -> list[dict[str, Any]]:
    """Processes whose parent is `pid` (zombies too), from /proc/*/stat."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: split after the last ')'.
        name = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append({"pid": int(entry), "comm": name, "state": fields[0]})
    return found


def worker_of(pid: int) -> int | None:
    """The language server's worker process (python -m code_evolver.worker.process), if any."""
    for child in children(pid):
        try:
            with open(f"/proc/{child['pid']}/cmdline", "rb") as handle:
                if b"code_evolver.worker.process" in handle.read():
                    return int(child["pid"])
        except OSError:
            continue
    return None


def user_processes(pid: int) -> list[dict[str, Any]]:
    """Processes the server started besides its worker: user code run by a fix, say."""
    worker = worker_of(pid)
    found = [c for c in children(pid) if c["pid"] != worker]
    return found + (children(worker) if worker is not None else [])


def code_action_params(
    uri: str, line: int, char: int, end: tuple[int, int] | None, diagnostics: list[Any]
) -> types.CodeActionParams:
    end_line, end_char = end if end is not None else (line, char)
    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(
            start=types.Position(line=line, character=char),
            end=types.Position(line=end_line, character=end_char),
        ),
        context=types.CodeActionContext(diagnostics=diagnostics),
    )


def diagnostic(line: int, message: str) -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(
            start=types.Position(line=line, character=4),
            end=types.Position(line=line, character=30),
        ),
        message=message,
        source="Pylance",
        severity=types.DiagnosticSeverity.Error,
    )


class Editor:
    """One server process and the client that speaks LSP with it."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.client = LanguageClient("code-evolver-bench", "0")
        self.applied: list[types.ApplyWorkspaceEditParams] = []
        self.progress_created = 0
        self.messages: list[str] = []
        self.stderr_tail = b""
        self._stderr_task: asyncio.Task[None] | None = None
        self.versions: dict[str, int] = {}
        self._handlers()

    def _handlers(self) -> None:
        client = self.client

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            self.applied.append(params)
            return types.ApplyWorkspaceEditResult(applied=True)

        @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def progress_create(params: types.WorkDoneProgressCreateParams) -> None:
            self.progress_created += 1

        @client.feature(types.WINDOW_SHOW_MESSAGE)
        def show_message(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)

        for method in (
            types.WINDOW_LOG_MESSAGE,
            types.PROGRESS,
            types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS,
            "codeEvolver/status",
        ):
            client.feature(method)(lambda params: None)

    @property
    def pid(self) -> int:
        server = self.client._server
        assert server is not None
        return server.pid

    async def spawn(self) -> float:
        """Start the process; returns perf_counter() at the moment of the spawn."""
        started = time.perf_counter()
        await self.client.start_io(self.argv[0], *self.argv[1:], env=self.env, cwd=str(self.cwd))
        server = self.client._server
        if server is not None and server.stderr is not None:
            self._stderr_task = asyncio.create_task(self._drain(server.stderr))
        return started

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while True:
            data = await stream.read(65536)
            if not data:
                return
            self.stderr_tail = (self.stderr_tail + data)[-8192:]

    async def ping(self) -> None:
        """A cheap request (code actions of a document that is not open)."""
        await self.client.text_document_code_action_async(
            code_action_params("file:///nowhere/none.py", 0, 0, None, [])
        )

    async def initialize(self, root: Path, options: dict[str, Any] | None = None) -> None:
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"),
                process_id=os.getpid(),
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="bench")],
                initialization_options=options or {},
            )
        )
        self.client.initialized(types.InitializedParams())

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        return uri

    def change(self, uri: str, text: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    async def code_action(self, params: types.CodeActionParams) -> list[Any]:
        return await self.client.text_document_code_action_async(params) or []

    async def command(self, name: str, args: dict[str, Any]) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=[args])
        )

    async def close(self) -> None:
        server = self.client._server
        if server is not None and server.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.shutdown_async(None), 10)
                self.client.exit(None)
            try:
                await asyncio.wait_for(server.wait(), 10)
            except asyncio.TimeoutError:
                server.kill()  # the process this Editor started, by its own handle
                await server.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.stop(), 10)
        if self._stderr_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stderr_task, 5)
