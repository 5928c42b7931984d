"""Fix diagnostics: the quick fixes the lightbulb offers, the fix job, and its edit.

The loop itself (run, ask, verify, escalate) is pipeline/fix_loop.py (`FixJob`, `FixSession`);
this module decides when the fix is offered, turns the editor's arguments into a FixJob for the
worker, and its Outcome into the edit and the message the user sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from ..pipeline.fix_loop import FixJob
from .actions import (
    Kind,
    WorkResult,
    code_action,
    diagnostic_from_json,
    diagnostic_json,
    diagnostics_from,
    region_result,
    run_job,
    snapshot,
    target_for,
)
from .state import ServerState

COMMAND = "codeEvolver.fixDiagnostics"


def offer(
    state: ServerState,
    document: TextDocument,
    params: types.CodeActionParams,
    base: dict[str, Any],
    wanted: Kind,
) -> list[types.CodeAction]:
    """ "Fix with <model>: <first diagnostic>" and "Fix all problems in file" on diagnostics:
    the editor's, or else the run diagnostics the server published on these lines (clients
    such as ALE send back only diagnostics that carry a code, or none at all)."""
    diagnostics = list(params.context.diagnostics) or _published_on(state, document.uri, params)
    if not diagnostics or not wanted(types.CodeActionKind.QuickFix):
        return []
    model = state.config.generator_model
    first = diagnostics[0].message.strip().splitlines()[0] if diagnostics[0].message else "problem"
    extra = f" (+{len(diagnostics) - 1} more)" if len(diagnostics) > 1 else ""
    args = {**base, "diagnostics": [diagnostic_json(d) for d in diagnostics]}
    return [
        code_action(
            state,
            f"Fix with {model}: {first[:80]}{extra}",
            types.CodeActionKind.QuickFix,
            COMMAND,
            args,
            diagnostics,
            True,
        ),
        code_action(
            state,
            f"Fix all problems in file with {model}",
            types.CodeActionKind.QuickFix,
            COMMAND,
            {**args, "all": True},
            diagnostics,
        ),
    ]


def _published_on(
    state: ServerState, uri: str, params: types.CodeActionParams
) -> list[types.Diagnostic]:
    lines = range(params.range.start.line, params.range.end.line + 1)
    return [
        diagnostic_from_json(d)
        for d in state.published.get(uri, [])
        if d.get("range", {}).get("start", {}).get("line") in lines
    ]


async def run(server: LanguageServer, state: ServerState, args: Mapping[str, Any]) -> WorkResult:
    """Fix the diagnostics in `args` (or the run diagnostics published on its line)."""
    snap = snapshot(server, args.get("uri"))
    diagnostics = diagnostics_from(args.get("diagnostics"))
    if not diagnostics and args.get("range"):
        line = ((args.get("range") or {}).get("start") or {}).get("line", 0)
        diagnostics = [
            d for d in diagnostics_from(state.published.get(snap.uri, [])) if d.line - 1 == line
        ]
    target = target_for(state, snap.path, snap.language)
    job = FixJob(target, snap.source, tuple(diagnostics), bool(args.get("all")))
    outcome = await run_job(server, state, f"Fixing with {state.config.generator_model}", job)
    return region_result(state, snap, outcome)
