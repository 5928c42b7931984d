"""The lightbulb: which actions apply, decided cheaply from what is cached (no model, no run)."""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.lsp.server import LanguageServer

from ..pipeline.stubs import selection_stub
from .state import ServerState

FIX = "codeEvolver.fixDiagnostics"
GENERATE = "codeEvolver.generateFunction"
TESTS = "codeEvolver.generateTests"
STATUS = "codeEvolver.showStatus"
COMMANDS = (FIX, GENERATE, TESTS, STATUS)
# The notification that carries the endpoints' health to the editor's status item.
STATUS_NOTIFICATION = "codeEvolver/status"
KINDS = [types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite]


_CONVERTER = get_converter()


def diagnostic_json(diagnostic: types.Diagnostic) -> Any:
    return _CONVERTER.unstructure(diagnostic, types.Diagnostic)


def _range_json(range_: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": range_.start.line, "character": range_.start.character},
        "end": {"line": range_.end.line, "character": range_.end.character},
    }


def _action(
    state: ServerState,
    title: str,
    kind: str,
    command: str,
    args: dict[str, Any],
    diagnostics: list[types.Diagnostic] | None = None,
    preferred: bool = False,
) -> types.CodeAction:
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


def code_actions(
    server: LanguageServer, state: ServerState, params: types.CodeActionParams
) -> list[types.CodeAction]:
    uri = params.text_document.uri
    document = server.workspace.text_documents.get(uri)
    if document is None:
        return []
    only = params.context.only
    wanted = (
        (lambda kind: any(kind == o or kind.startswith(f"{o}.") for o in only))
        if only
        else (lambda kind: True)
    )
    model = state.config.generator_model
    actions: list[types.CodeAction] = []
    base = {"uri": uri, "version": document.version, "range": _range_json(params.range)}
    diagnostics = list(params.context.diagnostics)
    if diagnostics and wanted(types.CodeActionKind.QuickFix):
        first = (
            diagnostics[0].message.strip().splitlines()[0] if diagnostics[0].message else "problem"
        )
        extra = f" (+{len(diagnostics) - 1} more)" if len(diagnostics) > 1 else ""
        args = {**base, "diagnostics": [diagnostic_json(d) for d in diagnostics]}
        actions.append(
            _action(
                state,
                f"Fix with {model}: {first[:80]}{extra}",
                types.CodeActionKind.QuickFix,
                FIX,
                args,
                diagnostics,
                True,
            )
        )
        actions.append(
            _action(
                state,
                f"Fix all problems in file with {model}",
                types.CodeActionKind.QuickFix,
                FIX,
                {**args, "all": True},
                diagnostics,
            )
        )
    if wanted(types.CodeActionKind.RefactorRewrite) and _is_python(document.language_id, uri):
        stub = _stub_here(state, document, params.range)
        if stub is not None:
            what = f"{stub.name}()" if stub.name else f"'{stub.request[:50]}'"
            actions.append(
                _action(
                    state,
                    f"Generate {what} with {model}",
                    types.CodeActionKind.RefactorRewrite,
                    GENERATE,
                    base,
                )
            )
    return actions


def _is_python(language_id: str | None, uri: str) -> bool:
    return language_id == "python" or (not language_id and uri.endswith(".py"))


def _stub_here(state: ServerState, document: Any, range_: types.Range) -> Any:
    found = state.stub_at(document.uri, document.version, document.source, range_.start.line)
    if found is not None:
        return found
    if range_.start != range_.end and range_.end.line - range_.start.line < 5:
        stub = selection_stub(
            document.source,
            range_.start.line,
            range_.start.character,
            range_.end.line,
            range_.end.character,
        )
        # One selected word is usually code being looked at, not a description.
        return stub if stub is not None and len(stub.request.split()) >= 2 else None
    return None
