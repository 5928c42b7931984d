"""The long work behind actions and commands: fix, generate, tests, run in the worker process."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from ..cancel import CancelToken
from ..jobs import tasks
from ..jobs.host import JobFailed, WorkerGone
from ..jobs.tasks import FixJob, GenerateJob, Job, TestsJob, UserError
from ..pipeline.checker import read_text
from ..pipeline.stubs import selection_stub
from ..values import DiagnosticInfo, Outcome, Stub, Target
from .edits import document_edit, file_edit
from .progress import Progress
from .state import ServerState

log = logging.getLogger("code_evolver.lsp")

__all__ = ["UserError", "WorkResult", "explain", "fix", "generate", "generate_tests"]


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


async def run_job(server: LanguageServer, state: ServerState, title: str, job: Job) -> Any:
    """Run `job` in the worker process with progress; an editor cancel stops it at once."""
    cancel = CancelToken()
    state.in_flight += 1
    state.active.add(cancel)
    try:
        async with Progress(server, title, cancel, state.client_supports_progress) as progress:
            task = asyncio.ensure_future(state.worker.run(job, progress.step, cancel))
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                cancel.cancel()
                # Wait for the worker to close its stream and kill its child before answering.
                await asyncio.wait([task], timeout=30)
                if task.done() and not task.cancelled():
                    task.exception()  # seen: it is the cancellation we asked for
                raise
    finally:
        state.in_flight -= 1
        state.active.discard(cancel)


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
    job = FixJob(_target(state, snap), snap.source, tuple(diagnostics), whole)
    model = state.config.generator_model
    outcome = await run_job(server, state, f"Fixing with {model}", job)
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
    open_docs = {
        to_fs_path(uri) or uri: doc.source
        for uri, doc in server.workspace.text_documents.items()
        if (doc.language_id or _language(uri)) == "python"
    }
    root = os.path.abspath(state.workspace_root)
    job = GenerateJob(_target(state, snap), snap.source, stub, root, open_docs)
    model = state.config.generator_model
    outcome = await run_job(server, state, f"Generating with {model}", job)
    level = types.MessageType.Info if outcome.changed else types.MessageType.Warning
    return WorkResult(_edit_for(state, snap, outcome), outcome.message, snap, level)


async def generate_tests(
    server: LanguageServer, state: ServerState, args: Mapping[str, Any]
) -> WorkResult:
    snap = snapshot(server, args.get("uri"))
    if snap.language != "python":
        raise UserError("Generate Tests writes pytest tests, so it works on Python files only.")
    line = ((args.get("range") or {}).get("start") or {}).get("line", 0)
    job = TestsJob(_target(state, snap), snap.source, int(line) if isinstance(line, int) else 0)
    outcome = await run_job(server, state, "Writing tests", job)
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
    if isinstance(error, JobFailed):
        return error.failure.sentence, error.failure.detail
    if isinstance(error, WorkerGone):
        return str(error), str(error)
    failure = tasks.explain(error)
    return failure.sentence, failure.detail
