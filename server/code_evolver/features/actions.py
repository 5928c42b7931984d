"""What every feature shares: the document snapshot, the code action, running its job in the
worker with progress, and answering resolve / executeCommand with one message and one edit."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from ..cancel import CancelToken
from ..pipeline.checker import read_text
from ..pipeline.jobs import Job
from ..source_text import lone_surrogate
from ..values import DiagnosticInfo, Outcome, Target
from ..worker.failures import UserError, failure_of
from ..worker.host import JobFailed, WorkerGone
from .edits import TextChange, rebase, region_change, workspace_edit
from .feedback import Progress, tell
from .state import ServerState

log = logging.getLogger("code_evolver.lsp")

# Seconds a command waits for the editor's answer to workspace/applyEdit: ALE applies the
# edit and never answers, and the command would otherwise never finish.
APPLY_EDIT_WAIT = 10.0

KINDS = [types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite]

_CONVERTER = get_converter()


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
    change: TextChange | None  # measured against the text the work started from
    message: str
    snapshot: Snapshot | None = None
    level: types.MessageType = types.MessageType.Info
    # A new title for the resolved action when its edit is less than the title promised.
    title: str | None = None


# A feature's long work: the editor's arguments in, one edit and one message out.
Work = Callable[[LanguageServer, ServerState, Mapping[str, Any]], Awaitable[WorkResult]]
Kind = Callable[[str], bool]
# A feature's lightbulb entry: the actions it offers for this document and range.
Offer = Callable[
    [ServerState, TextDocument, types.CodeActionParams, dict[str, Any], Kind],
    list[types.CodeAction],
]


# ---------------------------------------------------------------- the lightbulb


def diagnostic_json(diagnostic: types.Diagnostic) -> Any:
    return _CONVERTER.unstructure(diagnostic, types.Diagnostic)


def diagnostic_from_json(data: Any) -> types.Diagnostic:
    return _CONVERTER.structure(data, types.Diagnostic)


def range_json(range_: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": range_.start.line, "character": range_.start.character},
        "end": {"line": range_.end.line, "character": range_.end.character},
    }


def code_action(
    state: ServerState,
    title: str,
    kind: str,
    command: str,
    args: dict[str, Any],
    diagnostics: list[types.Diagnostic] | None = None,
    preferred: bool = False,
) -> types.CodeAction:
    """An action whose work runs on resolve, or through its command for clients without it."""
    action = types.CodeAction(
        title=title,
        kind=kind,
        diagnostics=diagnostics or None,
        is_preferred=preferred or None,
        data={"command": command, "args": args},
    )
    if not state.client_supports_resolve:
        # Without resolve the editor runs our command, which applies the edit itself.
        action.command = types.Command(title=title, command=command, arguments=[args])
    return action


def lightbulb(
    server: LanguageServer,
    state: ServerState,
    params: types.CodeActionParams,
    offers: Sequence[Offer],
) -> list[types.CodeAction]:
    """Every feature's actions for this range, decided cheaply (no model, no run)."""
    try:
        document = server.workspace.text_documents.get(params.text_document.uri)
        if document is None:
            return []
        only = params.context.only
        wanted: Kind = (
            (lambda kind: any(kind == o or kind.startswith(f"{o}.") for o in only))
            if only
            else (lambda kind: True)
        )
        base = {
            "uri": document.uri,
            "version": document.version,
            "range": range_json(params.range),
        }
        return [
            action for offer in offers for action in offer(state, document, params, base, wanted)
        ]
    except Exception:  # the lightbulb must never take the editor down
        log.exception("codeAction failed for %s", params.text_document.uri)
        return []


# ---------------------------------------------------------------- from arguments to a job


def snapshot(server: LanguageServer, uri: Any) -> Snapshot:
    if not isinstance(uri, str) or not uri:
        raise UserError("No document was given: open a file and run the command from it.")
    document = server.workspace.text_documents.get(uri)
    if document is None:
        raise UserError(f"{uri} is not open in the editor; open it and try again.")
    path = to_fs_path(uri) or uri
    source = document.source
    if "\x00" in source:
        raise UserError(f"{os.path.basename(path)} looks like a binary file; nothing to do.")
    surrogate = lone_surrogate(source, os.path.basename(path))
    if surrogate is not None:
        raise UserError(surrogate)
    return Snapshot(uri, path, document.version, document.language_id or language_of(path), source)


def language_of(path: str) -> str:
    return "python" if path.endswith((".py", ".pyi")) else os.path.splitext(path)[1].lstrip(".")


def diagnostics_from(items: Any) -> list[DiagnosticInfo]:
    """The editor's diagnostics (LSP JSON) as the pipeline reads them."""
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


def target_for(state: ServerState, path: str, language: str) -> Target:
    return Target(path, language, root_for(state, path))


def root_for(state: ServerState, path: str) -> str:
    """The workspace root when the file is inside it, else the file's own folder."""
    if in_workspace(state, path):
        return os.path.abspath(state.workspace_root)
    return os.path.dirname(os.path.abspath(path))


def in_workspace(state: ServerState, path: str) -> bool:
    return os.path.abspath(path).startswith(os.path.abspath(state.workspace_root) + os.sep)


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


# ---------------------------------------------------------------- from an outcome to an answer


def region_result(state: ServerState, snap: Snapshot, outcome: Outcome) -> WorkResult:
    """A fix's or a generation's outcome as one change of its region and one message."""
    change = None
    if outcome.new_source is not None and outcome.region is not None:
        change = region_change(
            snap.uri, snap.version, snap.source, outcome.new_source, outcome.region
        )
    full = outcome.changed and outcome.verdict != "partial"
    level = types.MessageType.Info if full else types.MessageType.Warning
    title = outcome.message[:120] if outcome.verdict == "partial" else None
    return WorkResult(change, outcome.message, snap, level, title)


def stale_sentence(uri: str) -> str:
    name = os.path.basename(to_fs_path(uri) or uri)
    return (
        f"{name} changed while Code Evolver worked, in the lines it rewrites, so the result "
        "was not applied (your edits are kept). Run the command again."
    )


def current_text(server: LanguageServer, uri: str) -> tuple[str | None, int | None]:
    """The text of `uri` as the editor has it now (and its version), else as on disk."""
    document = server.workspace.text_documents.get(uri)
    if document is not None:
        return document.source, document.version
    return read_text(to_fs_path(uri) or uri), None


def current_edit(
    server: LanguageServer, state: ServerState, change: TextChange
) -> types.WorkspaceEdit | None:
    """The change as an edit of the document as it is now, or None when the user changed the
    text it replaces since the work started (the user is told so, once)."""
    text, version = current_text(server, change.uri)
    moved = rebase(change, text, version)
    if moved is None:
        tell(
            server,
            types.MessageType.Warning,
            stale_sentence(change.uri),
            f"Unapplied result for {change.uri}: versions {change.version} -> {version}",
        )
        return None
    return workspace_edit(
        server.workspace.position_codec,
        [moved],
        versioned=state.client_supports_document_changes,
        can_create=state.client_supports_create,
    )


def describe_error(error: BaseException) -> tuple[str, str]:
    """(one sentence for the user, details for the log) for any failure of the work."""
    if isinstance(error, JobFailed):
        return error.failure.sentence, error.failure.detail
    if isinstance(error, WorkerGone):
        return str(error), str(error)
    failure = failure_of(error)
    return failure.sentence, failure.detail


async def resolve(
    server: LanguageServer, state: ServerState, action: types.CodeAction, works: Mapping[str, Work]
) -> types.CodeAction:
    """codeAction/resolve: do the action's work now and attach its edit.

    The work runs once per action and document version: a repeated resolve gets the same
    answer without asking the model again. An answer without an edit carries no `data`
    either: Eglot 1.17 resolves an action again while it has `data` but neither edit nor
    command, and did so forever when a fix found nothing.
    """
    if not state.client_supports_resolve:
        # Such actions carry our command, which does the work; resolving too would do it twice.
        return action
    data = action.data if isinstance(action.data, Mapping) else {}
    work = works.get(str(data.get("command")))
    args = data.get("args")
    if work is None or not isinstance(args, Mapping):
        return action
    answer = await _resolved_once(server, state, work, args, data)
    edit = current_edit(server, state, answer.change) if answer.change is not None else None
    if edit is not None:
        tell(server, answer.level, answer.message)  # the edit is for the current text
        action.edit = edit
        action.title = answer.title or action.title
    else:
        action.data = None
    return action


async def _resolved_once(
    server: LanguageServer,
    state: ServerState,
    work: Work,
    args: Mapping[str, Any],
    data: Mapping[str, Any],
) -> WorkResult:
    """The action's answer for the document's current version, worked out at most once."""
    uri = str(args.get("uri"))
    document = server.workspace.text_documents.get(uri)
    version = document.version if document is not None else None
    key = json.dumps(data, sort_keys=True, default=str)
    seen_version, answers = state.resolved.get(uri, (None, {}))
    if version is not None and seen_version == version and key in answers:
        answer = answers[key]
        if answer.change is None:
            tell(server, answer.level, answer.message)
        return answer
    answer = await _perform(server, state, work, args)
    if version is not None and answer.snapshot is not None:  # the work ran to its end
        if seen_version != version:
            answers = {}
        answers[key] = answer
        state.resolved[uri] = (version, answers)
    return answer


async def execute(
    server: LanguageServer, state: ServerState, work: Work, arguments: Any
) -> dict[str, Any]:
    """workspace/executeCommand: do the work and apply its edit with workspace/applyEdit."""
    args = arguments[0] if isinstance(arguments, (list, tuple)) and arguments else {}
    if not isinstance(args, Mapping):
        args = {}
    result = await _perform(server, state, work, args)
    if result.change is None:
        return {"applied": False, "message": result.message}
    edit = current_edit(server, state, result.change)
    if edit is None:
        return {"applied": False, "message": stale_sentence(result.change.uri)}
    applied = await _apply(server, edit)
    if applied is None:
        return {"applied": False, "message": _NO_ANSWER}
    if not applied:
        return {"applied": False, "message": "The editor refused the edit."}
    tell(server, result.level, result.message)  # said once the edit is known to apply
    return {"applied": True, "message": result.message}


async def _perform(
    server: LanguageServer, state: ServerState, work: Work, args: Mapping[str, Any]
) -> WorkResult:
    try:
        result = await work(server, state, args)
    except asyncio.CancelledError:
        server.window_log_message(
            types.LogMessageParams(type=types.MessageType.Info, message="Cancelled by the editor")
        )
        raise
    except Exception as error:
        sentence, detail = describe_error(error)
        level = types.MessageType.Info if sentence == "Cancelled." else types.MessageType.Error
        tell(server, level, sentence, detail)
        return WorkResult(None, sentence, None, level)
    if result.change is None:
        tell(server, result.level, result.message)  # nothing to apply: the message is all
    return result


_NO_ANSWER = (
    f"The editor did not answer the edit within {APPLY_EDIT_WAIT:.0f} s, so Code Evolver cannot "
    "tell whether it was applied: look at the file."
)


async def _apply(server: LanguageServer, edit: types.WorkspaceEdit) -> bool | None:
    """True once the editor applied the edit, False if not; None when it did not answer."""
    answer = asyncio.wrap_future(
        server.workspace_apply_edit(types.ApplyWorkspaceEditParams(edit=edit, label="Code Evolver"))
    )
    # Waited for without cancelling it: an answer that comes late still finds its request.
    await asyncio.wait([answer], timeout=APPLY_EDIT_WAIT)
    if not answer.done():
        tell(server, types.MessageType.Warning, _NO_ANSWER)
        return None
    response = answer.result()
    if not response.applied:
        tell(
            server,
            types.MessageType.Warning,
            "The editor refused the edit (the document probably changed meanwhile); nothing "
            f"was changed. {response.failure_reason or ''}".strip(),
        )
    return bool(response.applied)
