"""Generate Tests: pytest tests for the function at the cursor, written into tests/test_<module>.py.

The worker writes and runs the tests (pipeline/test_writer.py); this module turns the outcome
into a change of the test file measured against the text the tests were built on (so a change
made to that file meanwhile is kept, or the result refused), or the file to create.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path

from ..pipeline.test_writer import TestsJob
from ..worker.failures import UserError
from .actions import WorkResult, run_job, snapshot, target_for
from .edits import text_change
from .state import ServerState

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
    # Measured against the file as the tests were built on; moved onto today's text (or
    # refused) when the answer goes out, like every other change.
    change = text_change(uri, None, outcome.base, outcome.content)
    return WorkResult(change, outcome.message, snap)
