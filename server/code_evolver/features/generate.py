"""Generate a function: where the lightbulb offers it, the generate job, and its edit.

One function, `stub_for`, decides what there is to generate at a place, for the lightbulb and
for the command alike. The pipeline (related functions, overseer, parallel candidates checked
by the stub's docstring examples and tests, escalation) is pipeline/generate_loop.py
(`GenerateJob`, `Generator`); its message says "Generated" only when something checked the
code, and "not verified" otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import PositionCodec, TextDocument

from ..pipeline.generate_loop import GenerateJob
from ..pipeline.stubs import selection_stub
from ..values import Stub
from ..worker.failures import UserError
from .actions import (
    Kind,
    WorkResult,
    code_action,
    language_of,
    region_result,
    run_job,
    snapshot,
    target_for,
)
from .state import ServerState

COMMAND = "codeEvolver.generateFunction"

NOTHING_TO_GENERATE = (
    "Nothing to generate here: put the cursor on a function whose body is only a docstring "
    "or pass, on a '# generate: ...' comment, or select a few plain words describing the "
    "function."
)


def stub_for(
    state: ServerState,
    uri: str,
    version: int | None,
    source: str,
    language: str,
    range_: Any,
    codec: PositionCodec,
) -> Stub | None:
    """The stub at the range's start line, or the request a selection of plain words makes.

    `range_` is LSP JSON in the client's units (`codec`). One selected word is usually code
    being looked at, not a description, so a selection needs two words or more.
    """
    if language != "python":
        return None
    start = (range_ or {}).get("start") or {}
    end = (range_ or {}).get("end") or start
    try:
        first = int(start.get("line", 0))
        first_char = int(start.get("character", 0))
        last = int(end.get("line", first))
        last_char = int(end.get("character", first_char))
    except (TypeError, ValueError):
        return None
    found = state.stub_at(uri, version, source, max(first, 0))
    if found is not None or (first, first_char) == (last, last_char):
        return found  # a cursor, not a selection: its column does not matter
    lines = state.lines_of(uri, version, source)
    first_char = _code_points(codec, lines, first, first_char)
    last_char = _code_points(codec, lines, last, last_char)
    stub = selection_stub(source, first, first_char, last, last_char)
    return stub if stub is not None and len(stub.request.split()) >= 2 else None


def _code_points(codec: PositionCodec, lines: list[str], line: int, character: int) -> int:
    """A client's character on `line` as an index into that line's text (clamped to it)."""
    if not 0 <= line < len(lines):
        return character
    content = lines[line]
    if character >= codec.client_num_units(content):
        return len(content)
    position = types.Position(line=0, character=max(character, 0))
    return codec.position_from_client_units([content], position).character


def offer(
    state: ServerState,
    document: TextDocument,
    params: types.CodeActionParams,
    base: dict[str, Any],
    wanted: Kind,
) -> list[types.CodeAction]:
    """ "Generate <name>() with <model>" on a stub, a `# generate:` comment or a selection."""
    if not wanted(types.CodeActionKind.RefactorRewrite):
        return []
    language = document.language_id or language_of(document.uri)
    stub = stub_for(
        state,
        document.uri,
        document.version,
        document.source,
        language,
        base["range"],
        document.position_codec,
    )
    if stub is None:
        return []
    what = f"{stub.name}()" if stub.name else f"'{stub.request[:50]}'"
    model = state.config.generator_model
    return [
        code_action(
            state,
            f"Generate {what} with {model}",
            types.CodeActionKind.RefactorRewrite,
            COMMAND,
            base,
        )
    ]


async def run(server: LanguageServer, state: ServerState, args: Mapping[str, Any]) -> WorkResult:
    """Generate the function for the stub at `args`' range and replace exactly the stub."""
    snap = snapshot(server, args.get("uri"))
    codec = server.workspace.position_codec
    stub = stub_for(
        state, snap.uri, snap.version, snap.source, snap.language, args.get("range"), codec
    )
    if stub is None:
        raise UserError(NOTHING_TO_GENERATE)
    open_docs = {
        to_fs_path(uri) or uri: doc.source
        for uri, doc in server.workspace.text_documents.items()
        if (doc.language_id or language_of(uri)) == "python"
    }
    root = os.path.abspath(state.workspace_root)
    target = target_for(state, snap.path, snap.language)
    job = GenerateJob(target, snap.source, stub, root, open_docs)
    outcome = await run_job(server, state, f"Generating with {state.config.generator_model}", job)
    return region_result(state, snap, outcome)
