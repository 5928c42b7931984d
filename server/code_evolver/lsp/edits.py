"""Workspace edits bound to the document version the work started from."""

from __future__ import annotations

from lsprotocol import types

from ..values import Region


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def region_range(source: str, region: Region) -> types.Range:
    """The LSP range of whole lines start..end; the end stops at the last line's end."""
    lines = source.splitlines(keepends=True) or [""]
    start = min(region.start, len(lines) - 1)
    end = min(region.end, len(lines) - 1)
    if end + 1 < len(lines):
        end_pos = types.Position(line=end + 1, character=0)
    else:
        last = lines[end].rstrip("\r\n")
        end_pos = types.Position(line=end, character=utf16_len(last))
    return types.Range(start=types.Position(line=start, character=0), end=end_pos)


def replacement_text(new_source: str, old_source: str, region: Region) -> str:
    """The text that replaces `region` so that `old_source` becomes `new_source`."""
    old_lines = old_source.splitlines(keepends=True)
    new_lines = new_source.splitlines(keepends=True)
    after = len(old_lines) - (region.end + 1)
    kept_tail = new_lines[len(new_lines) - after :] if after > 0 else []
    body = new_lines[region.start : len(new_lines) - len(kept_tail)]
    text = "".join(body)
    if region.end + 1 >= len(old_lines):
        # The range stops before the last line's newline, which the document keeps.
        text = text.removesuffix("\r\n") if text.endswith("\r\n") else text.removesuffix("\n")
        if not old_source.endswith(("\n", "\r")):
            text = text.rstrip("\r\n")
    return text


def document_edit(
    uri: str,
    version: int | None,
    old_source: str,
    new_source: str,
    region: Region,
    *,
    versioned: bool,
) -> types.WorkspaceEdit:
    """One TextEdit replacing the region; versioned so it never lands on changed text."""
    edit = types.TextEdit(
        range=region_range(old_source, region),
        new_text=replacement_text(new_source, old_source, region),
    )
    if versioned:
        return types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=uri, version=version
                    ),
                    edits=[edit],
                )
            ]
        )
    return types.WorkspaceEdit(changes={uri: [edit]})


def file_edit(
    uri: str,
    version: int | None,
    old_text: str | None,
    new_text: str,
    *,
    versioned: bool,
    can_create: bool,
) -> types.WorkspaceEdit:
    """Create a file with `new_text`, or replace all of an existing one."""
    if old_text is None:
        whole = types.Range(
            start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
        )
    else:
        whole = region_range(old_text, Region(0, max(len(old_text.splitlines()) - 1, 0), True))
        if old_text.endswith(("\n", "\r")):
            whole = types.Range(
                start=whole.start, end=types.Position(line=len(old_text.splitlines()), character=0)
            )
    edit = types.TextEdit(range=whole, new_text=new_text)
    if not versioned:
        return types.WorkspaceEdit(changes={uri: [edit]})
    changes: list[types.TextDocumentEdit | types.CreateFile] = []
    if old_text is None and can_create:
        changes.append(
            types.CreateFile(
                uri=uri, options=types.CreateFileOptions(overwrite=False, ignore_if_exists=True)
            )
        )
    changes.append(
        types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
            edits=[edit],
        )
    )
    return types.WorkspaceEdit(document_changes=changes)
