"""Edits that never lose the user's text, and every position in or out in the negotiated units.

Work starts from one version of a document and ends seconds later, while the user types on.
A result is a `TextChange`: a span of the text the work started from and its replacement.
Before it is sent, `rebase` moves it onto the text the editor has now (the server sees every
didChange): unchanged when nothing changed, shifted when every change since lies outside the
span, refused when one touches it. Only then is it written as LSP positions, through pygls'
position codec for the encoding negotiated at initialize (utf-8, utf-16 or utf-32), bound to
the current version.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from lsprotocol import types
from pygls.workspace import PositionCodec
from pygls.workspace.position_codec import ServerTextPosition

from ..pipeline.lines import line_starts, split_lines
from ..values import Region


@dataclass(frozen=True)
class TextChange:
    """Replace base[start:end] with `text` in the document `uri` as it was at `version`.

    `base` is None for a file that did not exist; start and end are then 0.
    """

    uri: str
    version: int | None
    base: str | None
    start: int
    end: int
    text: str


# ---------------------------------------------------------------- building a change


def region_change(
    uri: str, version: int | None, old_source: str, new_source: str, region: Region
) -> TextChange:
    """The change that turns the region's whole lines of `old_source` into `new_source`'s."""
    starts = line_starts(old_source)
    start = starts[min(region.start, len(starts) - 1)]
    end = starts[min(region.end + 1, len(starts) - 1)]
    head, tail = old_source[:start], old_source[end:]
    if new_source.startswith(head) and new_source.endswith(tail):
        middle = new_source[len(head) : len(new_source) - len(tail)]
        return TextChange(uri, version, old_source, start, end, middle)
    return text_change(uri, version, old_source, new_source)


def text_change(uri: str, version: int | None, old: str | None, new: str) -> TextChange:
    """The smallest run of whole lines of `old` that differs from `new`, as one change."""
    if old is None:
        return TextChange(uri, version, None, 0, 0, new)
    old_lines = split_lines(old, keepends=True)
    new_lines = split_lines(new, keepends=True)
    head = 0
    while head < min(len(old_lines), len(new_lines)) and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    limit = min(len(old_lines), len(new_lines)) - head
    while tail < limit and old_lines[-1 - tail] == new_lines[-1 - tail]:
        tail += 1
    start = sum(len(line) for line in old_lines[:head])
    end = len(old) - sum(len(line) for line in old_lines[len(old_lines) - tail :])
    middle = "".join(new_lines[head : len(new_lines) - tail])
    return TextChange(uri, version, old, start, end, middle)


# ---------------------------------------------------------------- moving it onto today's text


def rebase(change: TextChange, current: str | None, version: int | None) -> TextChange | None:
    """`change` as it applies to `current` (the text at `version`), or None when the text
    changed inside its span (or a file to create appeared meanwhile)."""
    if change.base == current or (change.base is None and current == ""):
        return replace(change, version=version, base=current)
    if change.base is None or current is None:
        return None
    span = moved_span(change.base, current, change.start, change.end)
    if span is None:
        return None
    return TextChange(change.uri, version, current, span[0], span[1], change.text)


def moved_span(base: str, current: str, start: int, end: int) -> tuple[int, int] | None:
    """Where the whole lines base[start:end] are in `current`, when no change between the two
    texts touches them; else None. A line typed right above or below the span moves it."""
    base_starts, now_starts = line_starts(base), line_starts(current)
    first = bisect.bisect_left(base_starts, start)
    last = bisect.bisect_left(base_starts, end)
    if base_starts[first : first + 1] != [start] or base_starts[last : last + 1] != [end]:
        return None  # not whole lines: never guess
    old = split_lines(base, keepends=True)
    new = split_lines(current, keepends=True)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            continue
        if first < last and i1 <= first and last <= i2:
            return now_starts[j1 + first - i1], now_starts[j1 + last - i1]
        # An insertion point is safe between two unchanged lines, or at either end of the
        # file when nothing was added there.
        if first == last and (
            i1 < first < i2
            or (first == i1 == 0 and j1 == 0)
            or (first == i2 == len(old) and j2 == len(new))
        ):
            return (now_starts[j1 + first - i1],) * 2
    return None


# ---------------------------------------------------------------- positions in and out


def client_position(codec: PositionCodec, text: str, offset: int) -> types.Position:
    """The LSP position of `offset` (code points into `text`) in the client's units."""
    lines = split_lines(text, keepends=True)
    starts = line_starts(text)
    line = bisect.bisect_right(starts, offset) - 1
    if line >= len(lines):
        if not lines or text.endswith(("\n", "\r")):
            return types.Position(line=len(lines), character=0)
        line = len(lines) - 1
    return codec.position_to_client_units(lines, ServerTextPosition(line, offset - starts[line]))


def server_position(codec: PositionCodec, text: str, line: int, character: int) -> tuple[int, int]:
    """A client's (line, character) as (line, code points into that line), clamped to the
    document and to the line's text (its line end excluded)."""
    lines = split_lines(text, keepends=True)
    if line < 0 or not lines:
        return 0, 0
    if line >= len(lines):
        return len(lines) - 1, len(lines[-1].rstrip("\r\n"))
    content = lines[line].rstrip("\r\n")
    if character >= codec.client_num_units(content):
        return line, len(content)
    position = types.Position(line=0, character=max(character, 0))
    return line, codec.position_from_client_units([content], position).character


def text_edit(codec: PositionCodec, change: TextChange) -> types.TextEdit:
    base = change.base or ""
    return types.TextEdit(
        range=types.Range(
            start=client_position(codec, base, change.start),
            end=client_position(codec, base, change.end),
        ),
        new_text=change.text,
    )


def workspace_edit(
    codec: PositionCodec,
    changes: Sequence[TextChange],
    *,
    versioned: bool,
    can_create: bool,
) -> types.WorkspaceEdit:
    """The edits, each bound to its document's version when the client takes versions."""
    if not versioned:
        grouped: dict[str, list[types.TextEdit]] = {}
        for change in changes:
            grouped.setdefault(change.uri, []).append(text_edit(codec, change))
        return types.WorkspaceEdit(changes=grouped)
    operations: list[types.TextDocumentEdit | types.CreateFile] = []
    for change in changes:
        if change.base is None and can_create:
            options = types.CreateFileOptions(overwrite=False, ignore_if_exists=True)
            operations.append(types.CreateFile(uri=change.uri, options=options))
        document = types.OptionalVersionedTextDocumentIdentifier(
            uri=change.uri, version=change.version
        )
        operations.append(
            types.TextDocumentEdit(text_document=document, edits=[text_edit(codec, change)])
        )
    return types.WorkspaceEdit(document_changes=operations)
