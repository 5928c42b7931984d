"""An editor stand-in for end-to-end tests: VS Code's capabilities, open documents, applyEdit."""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "code_evolver", "lsp"])


@dataclass
class Editor:
    """Keeps the text of open documents and applies the server's edits like VS Code does."""

    client: LanguageClient
    root: Path
    texts: dict[str, str] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    edits: list[types.ApplyWorkspaceEditParams] = field(default_factory=list)
    encoding: str = "utf-16"  # the position encoding the server chose at initialize

    def attach(self) -> None:
        @self.client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            self.edits.append(params)
            return types.ApplyWorkspaceEditResult(applied=self.apply(params.edit))

    async def start(
        self,
        config: Path | None,
        *,
        trusted: bool = True,
        overrides: dict[str, Any] | None = None,
        capabilities: types.ClientCapabilities | None = None,
    ) -> None:
        self.attach()
        options: dict[str, Any] = {"workspaceTrusted": trusted}
        if config is not None:
            options["configPath"] = str(config)
        if overrides:
            options["overrides"] = overrides
        result = await self.client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities or client_capabilities("visual-studio-code"),
                root_uri=self.root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=self.root.as_uri(), name="ws")],
                initialization_options=options,
            )
        )
        self.encoding = result.capabilities.position_encoding or "utf-16"

    def open(self, name: str, text: str, language: str = "python") -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        uri = path.as_uri()
        self.texts[uri] = text
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language, version=1, text=text
                )
            )
        )
        return uri

    def change(self, uri: str, text: str) -> None:
        self.versions[uri] += 1
        self.texts[uri] = text
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def type_text(self, uri: str, start: int, end: int, text: str) -> None:
        """Replace text[start:end] (code points) like a typing editor: one incremental change
        whose range is in the negotiated units."""
        old = self.texts[uri]
        change = types.TextDocumentContentChangePartial(
            range=types.Range(
                start=position(old, start, self.encoding), end=position(old, end, self.encoding)
            ),
            text=text,
        )
        self.versions[uri] += 1
        self.texts[uri] = old[:start] + text + old[end:]
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[change],
            )
        )

    def apply(self, edit: types.WorkspaceEdit) -> bool:
        """Apply like VS Code: refuse the whole edit when a version does not match."""
        changes = edit.document_changes or []
        for change in changes:
            if isinstance(change, types.TextDocumentEdit):
                uri = change.text_document.uri
                expected = change.text_document.version
                if expected is not None and self.versions.get(uri) != expected:
                    return False
        for change in changes:
            if isinstance(change, types.CreateFile):
                self.texts.setdefault(change.uri, "")
                self.versions.setdefault(change.uri, 0)
            elif isinstance(change, types.TextDocumentEdit):
                self._edit(change.text_document.uri, list(change.edits))
        for uri, text_edits in (edit.changes or {}).items():
            self._edit(uri, list(text_edits))
        return True

    def _edit(self, uri: str, edits: list[Any]) -> None:
        if uri not in self.texts:
            path = Path(uri.removeprefix("file://"))
            self.texts[uri] = path.read_text(encoding="utf-8") if path.exists() else ""
            self.versions[uri] = 0
        text = self.texts[uri]
        for edit in sorted(
            edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True
        ):
            start = offset(text, edit.range.start, self.encoding)
            end = offset(text, edit.range.end, self.encoding)
            text = text[:start] + edit.new_text + text[end:]
        self.texts[uri] = text
        if uri in self.versions:
            self.versions[uri] += 1
            self.client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(
                        uri=uri, version=self.versions[uri]
                    ),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                )
            )

    async def actions(
        self,
        uri: str,
        line: int,
        diagnostics: list[types.Diagnostic] = (),
        end: tuple[int, int] | None = None,
        start_char: int = 0,
    ) -> list[types.CodeAction]:
        end_pos = (
            types.Position(line=end[0], character=end[1])
            if end
            else types.Position(line=line, character=start_char)
        )
        result = await self.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(
                    start=types.Position(line=line, character=start_char), end=end_pos
                ),
                context=types.CodeActionContext(diagnostics=list(diagnostics)),
            )
        )
        return [a for a in result or [] if isinstance(a, types.CodeAction)]

    async def command(self, name: str, **args: Any) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=[args])
        )

    def messages(self) -> list[str]:
        return [m.message for m in self.client.messages]

    def progress(self) -> list[Any]:
        return [value for reports in self.client.progress_reports.values() for value in reports]

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if predicate():
                return True
            await asyncio.sleep(0.05)
        return bool(predicate())


# The editor's own reading of LSP, kept apart from the server's code on purpose.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_UNIT_BYTES = {"utf-8": ("utf-8", 1), "utf-16": ("utf-16-le", 2), "utf-32": ("utf-32-le", 4)}


def lines_of(text: str) -> list[str]:
    """Lines with their ends; only \\n, \\r\\n and \\r end one (the LSP rule)."""
    return [m.group() for m in _LINE.finditer(text) if m.group()]


def units(text: str, encoding: str) -> int:
    codec, width = _UNIT_BYTES[encoding]
    return len(text.encode(codec, "surrogatepass")) // width


def offset(text: str, position: types.Position, encoding: str = "utf-16") -> int:
    """The code-point offset of an LSP position; a character past the line's end is its end."""
    lines = lines_of(text)
    if position.line >= len(lines):
        return len(text)
    before = sum(len(line) for line in lines[: position.line])
    line = lines[position.line].rstrip("\r\n")
    count = 0
    for index, char in enumerate(line):
        if count >= position.character:
            return before + index
        count += units(char, encoding)
    return before + len(line)


def position(text: str, at: int, encoding: str = "utf-16") -> types.Position:
    """The LSP position of the code-point offset `at`."""
    line_start = 0
    for number, line in enumerate(lines_of(text)):
        if at < line_start + len(line) or (
            at == line_start + len(line) and not line.endswith(("\n", "\r"))
        ):
            column = min(at - line_start, len(line.rstrip("\r\n")))
            return types.Position(line=number, character=units(line[:column], encoding))
        line_start += len(line)
    return types.Position(line=len(lines_of(text)), character=0)


def diagnostic(line: int, message: str, source: str = "Pylance") -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(
            start=types.Position(line=line, character=0),
            end=types.Position(line=line, character=10),
        ),
        message=message,
        source=source,
        severity=types.DiagnosticSeverity.Error,
    )
