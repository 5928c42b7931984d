"""The long work behind actions and commands: fix, generate, tests, run in worker threads."""

from __future__ import annotations

import asyncio
import logging
import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from ..cancel import Cancelled, CancelToken
from ..llm import AllEndpointsFailed, LLMError
from ..pipeline.checker import Target, read_text
from ..pipeline.fix import FixSession, Outcome
from ..pipeline.generate import Generator
from ..pipeline.prompts import DiagnosticInfo
from ..pipeline.stubs import Stub, selection_stub
from .edits import document_edit, file_edit
from .progress import Progress
from .state import ServerState

log = logging.getLogger("code_evolver.lsp")
T = TypeVar("T")


class UserError(Exception):
    """A request the server cannot serve, with the sentence to show."""


@dataclass(frozen=True)
class Snapshot:
    """The document as it was when the work started."""

    uri: str
    path: str
    version: int | None
    language: str
    source: str


@dataclass(frozen=True)
class WorkResult:
    edit: types.WorkspaceEdit | None
    message: str
    snapshot: Snapshot | None = None
    level: types.MessageType = types.MessageType.Info


def snapshot(server: LanguageServer, uri: Any, version: Any = None) -> Snapshot:
    if not isinstance(uri, str) or not uri:
        raise UserError("No document was given: open a file and run the command from it.")
    document = server.workspace.text_documents.get(uri)
    if document is None:
        raise UserError(f"{uri} is not open in the editor; open it and try again.")
    path = to_fs_path(uri) or uri
    source = document.source
    if "\x00" in source:
        raise UserError(f"{os.path.basename(path)} looks like a binary file; nothing to do.")
    return Snapshot(uri, path, document.version, document.language_id or _language(path), source)


def _language(path: str) -> str:
    return "python" if path.endswith((".py", ".pyi")) else os.path.splitext(path)[1].lstrip(".")


def diagnostics_from(items: Any) -> list[DiagnosticInfo]:
    out = []
    for item in items or []:
        if not isinstance(item, Mapping):
            continue
        start = (item.get("range") or {}).get("start") or {}
        line = start.get("line", 0)
        code = item.get("code")
        out.append(
            DiagnosticInfo(
                str(item.get("message", "")).strip()[:500],
                (line if isinstance(line, int) and line >= 0 else 0) + 1,
                item.get("source"),
                None if code is None else str(code),
            )
        )
    return out


async def run_job(
    server: LanguageServer,
    state: ServerState,
    title: str,
    work: Callable[[CancelToken, Callable[[str], None]], T],
) -> T:
    """Run `work` in a worker thread with progress; an editor cancel stops it at once."""
    cancel = CancelToken()
    loop = asyncio.get_running_loop()
    state.in_flight += 1
    state.active.add(cancel)
    future: asyncio.Future[T] | None = None
    try:
        async with Progress(server, title, cancel, state.client_supports_progress) as progress:
            future = loop.run_in_executor(
                state.jobs, _until_done(state, cancel, work), cancel, progress.step
            )
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                cancel.cancel()
                # Wait for the thread to close its stream and kill its child before answering.
                await asyncio.wait([future], timeout=30)
                raise
    finally:
        state.in_flight -= 1
        if future is None or future.cancelled():
            state.active.discard(cancel)  # the thread never started


def _until_done(
    state: ServerState, cancel: CancelToken, work: Callable[[CancelToken, Callable[[str], None]], T]
) -> Callable[[CancelToken, Callable[[str], None]], T]:
    """Wrap `work` so its cancel switch stays registered until the thread really ends."""

    def run(token: CancelToken, step: Callable[[str], None]) -> T:
        try:
            return work(token, step)
        finally:
            state.active.discard(cancel)

    return run


def _target(state: ServerState, snap: Snapshot) -> Target:
    return Target(snap.path, snap.language, _root_for(state, snap.path))


def _root_for(state: ServerState, path: str) -> str:
    root = os.path.abspath(state.workspace_root)
    if os.path.abspath(path).startswith(root + os.sep):
        return root
    return os.path.dirname(os.path.abspath(path))


def _edit_for(state: ServerState, snap: Snapshot, outcome: Outcome) -> types.WorkspaceEdit | None:
    if outcome.new_source is None or outcome.region is None:
        return None
    return document_edit(
        snap.uri,
        snap.version,
        snap.source,
        outcome.new_source,
        outcome.region,
        versioned=state.client_supports_document_changes,
    )


async def fix(server: LanguageServer, state: ServerState, args: Mapping[str, Any]) -> WorkResult:
    snap = snapshot(server, args.get("uri"))
    diagnostics = diagnostics_from(args.get("diagnostics"))
    whole = bool(args.get("all"))
    if not diagnostics and args.get("range"):
        line = ((args.get("range") or {}).get("start") or {}).get("line", 0)
        diagnostics = [
            d for d in diagnostics_from(state.published.get(snap.uri, [])) if d.line - 1 == line
        ]
    settings = state.config.settings
    client = state.client
    target = _target(state, snap)
    model = client.role_settings("generator").model

    def work(cancel: CancelToken, step: Callable[[str], None]) -> Outcome:
        with FixSession(
            client, settings, target, trusted=state.trusted, cancel=cancel, on_step=step
        ) as session:
            return session.fix(snap.source, diagnostics, whole_file=whole)

    outcome = await run_job(server, state, f"Fixing with {model}", work)
    level = types.MessageType.Info if outcome.changed else types.MessageType.Warning
    return WorkResult(_edit_for(state, snap, outcome), outcome.message, snap, level)


async def generate(
    server: LanguageServer, state: ServerState, args: Mapping[str, Any]
) -> WorkResult:
    snap = snapshot(server, args.get("uri"))
    stub = find_stub(state, snap, args.get("range"))
    if stub is None:
        raise UserError(
            "Nothing to generate here: put the cursor on a function whose body is "
            "only a docstring or pass, on a '# generate: ...' comment, or select "
            "a few plain words describing the function."
        )
    settings = state.config.settings
    client = state.client
    target = _target(state, snap)
    open_docs = {
        to_fs_path(uri) or uri: doc.source
        for uri, doc in server.workspace.text_documents.items()
        if (doc.language_id or _language(uri)) == "python"
    }
    model = client.role_settings("generator").model

    def work(cancel: CancelToken, step: Callable[[str], None]) -> Outcome:
        sources = state.workspace_sources(open_docs) if settings.generate.related_functions else {}
        sources.pop(snap.path, None)
        with Generator(
            client, settings, target, trusted=state.trusted, cancel=cancel, on_step=step
        ) as generator:
            return generator.generate(snap.source, stub, sources)

    outcome = await run_job(server, state, f"Generating with {model}", work)
    level = types.MessageType.Info if outcome.changed else types.MessageType.Warning
    return WorkResult(_edit_for(state, snap, outcome), outcome.message, snap, level)


async def generate_tests(
    server: LanguageServer, state: ServerState, args: Mapping[str, Any]
) -> WorkResult:
    snap = snapshot(server, args.get("uri"))
    if snap.language != "python":
        raise UserError("Generate Tests writes pytest tests, so it works on Python files only.")
    line = ((args.get("range") or {}).get("start") or {}).get("line", 0)
    settings = state.config.settings
    client = state.client
    target = _target(state, snap)

    def work(cancel: CancelToken, step: Callable[[str], None]) -> Any:
        with Generator(
            client, settings, target, trusted=state.trusted, cancel=cancel, on_step=step
        ) as generator:
            return generator.write_tests(snap.source, int(line) if isinstance(line, int) else 0)

    outcome = await run_job(server, state, "Writing tests", work)
    if outcome.path is None or outcome.content is None:
        return WorkResult(None, outcome.message, snap, types.MessageType.Warning)
    uri = from_fs_path(outcome.path) or outcome.path
    open_doc = server.workspace.text_documents.get(uri)
    old = open_doc.source if open_doc is not None else read_text(outcome.path)
    edit = file_edit(
        uri,
        open_doc.version if open_doc is not None else None,
        old,
        outcome.content,
        versioned=state.client_supports_document_changes,
        can_create=state.client_supports_create,
    )
    return WorkResult(edit, outcome.message, snap)


def find_stub(state: ServerState, snap: Snapshot, range_: Any) -> Stub | None:
    start = (range_ or {}).get("start") or {}
    end = (range_ or {}).get("end") or start
    line = start.get("line", 0) if isinstance(start.get("line"), int) else 0
    if snap.language != "python":
        return None
    found = state.stub_at(snap.uri, snap.version, snap.source, line)
    if found is not None:
        return found
    if end and (end.get("line"), end.get("character")) != (
        start.get("line"),
        start.get("character"),
    ):
        try:
            return selection_stub(
                snap.source,
                int(start.get("line", 0)),
                int(start.get("character", 0)),
                int(end.get("line", 0)),
                int(end.get("character", 0)),
            )
        except (TypeError, ValueError):
            return None
    return None


def explain(error: BaseException) -> tuple[str, str]:
    """(one sentence for the user, details for the log) for any failure of the work."""
    if isinstance(error, UserError):
        return str(error), str(error)
    if isinstance(error, AllEndpointsFailed):
        return error.summary, str(error)
    if isinstance(error, LLMError):
        return f"The model request failed: {error}", str(error)
    if isinstance(error, Cancelled):
        return "Cancelled.", "cancelled"
    detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return (
        f"Code Evolver hit an internal error ({type(error).__name__}: {error}); details are "
        "in the Code Evolver log.",
        detail,
    )
