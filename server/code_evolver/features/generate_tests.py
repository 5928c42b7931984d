"""Generate Tests: pytest tests for the function at the cursor, written into tests/test_<module>.py.

The worker writes and runs the tests (pipeline/test_writer.py); this module turns the outcome
into an edit that creates the test file or replaces its text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path

from ..lsp.edits import file_edit
from ..lsp.state import ServerState
from ..pipeline.checker import read_text
from ..worker.failures import UserError
from ..worker.jobs import TestsJob
from .actions import WorkResult, run_job, snapshot, target_for

COMMAND = "codeEvolver.generateTests"


async def run(server: LanguageServer, state: ServerState, args: Mapping[str, Any]) -> WorkResult:
    snap = snapshot(server, args.get("uri"))
    if snap.language != "python":
        raise UserError("Generate Tests writes pytest tests, so it works on Python files only.")
    line = ((args.get("range") or {}).get("start") or {}).get("line", 0)
    target = target_for(state, snap.path, snap.language)
    job = TestsJob(target, snap.source, int(line) if isinstance(line, int) else 0)
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
