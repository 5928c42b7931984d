"""The floor for editor latency: a pygls language server whose code actions are always empty.

It advertises the same code action kinds as Code Evolver and keeps documents in sync the way
every pygls server does, so the difference to `python -m code_evolver lsp` is our own work.

    python bench/bare_server.py      # LSP over stdio
"""

from __future__ import annotations

from lsprotocol import types
from pygls.lsp.server import LanguageServer

server = LanguageServer("bare-bench-server", "0")


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite],
        resolve_provider=True,
    ),
)
def code_action(ls: LanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    return []


if __name__ == "__main__":
    server.start_io()
