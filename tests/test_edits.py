"""Changes moved onto the text the user has now, and positions in every negotiated encoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace import PositionCodec

from code_evolver.features.edits import (
    TextChange,
    client_position,
    moved_span,
    rebase,
    region_change,
    server_position,
    text_change,
    workspace_edit,
)
from code_evolver.values import Region

BASE = "a = 1\n\ndef f():\n    return 2\n\nb = 3\n"
SPAN = (BASE.index("def"), BASE.index("\nb") + 1)  # def f() and its blank line


def test_unchanged_text_keeps_the_span() -> None:
    assert moved_span(BASE, BASE, *SPAN) == SPAN


def test_lines_typed_above_or_below_move_or_keep_the_span() -> None:
    above = "# new\n" + BASE
    assert moved_span(BASE, above, *SPAN) == (SPAN[0] + 6, SPAN[1] + 6)
    below = BASE + "c = 4\n"
    assert moved_span(BASE, below, *SPAN) == SPAN
    both = "# new\n" + BASE.replace("b = 3", "b = 33")
    assert moved_span(BASE, both, *SPAN) == (SPAN[0] + 6, SPAN[1] + 6)


def test_any_change_inside_the_span_refuses() -> None:
    assert moved_span(BASE, BASE.replace("return 2", "return 22"), *SPAN) is None
    assert moved_span(BASE, BASE.replace("    return 2\n", "    return 2\n    x\n"), *SPAN) is None
    assert moved_span(BASE, BASE.replace("def f", "def g"), *SPAN) is None


def test_a_span_that_is_not_whole_lines_is_never_guessed() -> None:
    assert moved_span(BASE, "# x\n" + BASE, SPAN[0] + 1, SPAN[1]) is None


def test_an_insertion_point_moves_only_between_unchanged_lines() -> None:
    end = len(BASE)
    assert moved_span(BASE, "# x\n" + BASE, end, end) == (end + 4, end + 4)
    assert moved_span(BASE, BASE + "tail\n", end, end) is None  # who goes first is unknown


def test_rebase_binds_the_current_version_and_text() -> None:
    change = region_change("u", 1, BASE, BASE.replace("return 2", "return 3"), Region(2, 3, False))
    assert change.base == BASE and BASE[change.start : change.end] == "def f():\n    return 2\n"
    moved = rebase(change, "# x\n" + BASE, 2)
    assert moved is not None and moved.version == 2 and moved.base == "# x\n" + BASE
    assert moved.base[moved.start : moved.end] == "def f():\n    return 2\n"
    assert rebase(change, BASE.replace("return 2", "return 9"), 2) is None


def test_a_file_to_create_that_appeared_meanwhile_is_not_overwritten() -> None:
    change = text_change("u", None, None, "tests\n")
    assert rebase(change, "someone's file\n", None) is None
    assert rebase(change, None, None) == change


@pytest.mark.parametrize(("encoding", "column"), [("utf-8", 14), ("utf-16", 10), ("utf-32", 8)])
def test_positions_out_are_in_the_negotiated_units(encoding: str, column: int) -> None:
    codec = PositionCodec(encoding)
    text = "x = '😀'\ny = '😀😀'"  # no final line end: the end is on the last line
    assert client_position(codec, text, len(text)) == types.Position(line=1, character=column)
    assert client_position(codec, text + "\n", len(text) + 1) == types.Position(line=2, character=0)
    assert server_position(codec, text, 1, column) == (1, 8)
    assert server_position(codec, text, 1, column - (column - 5)) == (1, 5)


def test_a_changes_only_edit_and_a_versioned_one_carry_the_same_text_edit() -> None:
    codec = PositionCodec("utf-16")
    change = TextChange("file:///a.py", 3, "a\u2028b\nc\n", 4, 6, "C\n")
    plain = workspace_edit(codec, [change], versioned=False, can_create=True)
    versioned = workspace_edit(codec, [change], versioned=True, can_create=True)
    assert plain.changes is not None and versioned.document_changes is not None
    [edit] = plain.changes["file:///a.py"]
    document_edit = versioned.document_changes[0]
    assert isinstance(document_edit, types.TextDocumentEdit)
    assert document_edit.text_document.version == 3 and document_edit.edits == [edit]
    assert edit.range.start == types.Position(line=1, character=0)  # U+2028 ends no line
    assert edit.range.end == types.Position(line=2, character=0)


lines = st.lists(
    st.sampled_from(["a\n", "b\n", " \n", "c\r\n", "d\r", "\u2028e\n", "\x0cf\n"]), max_size=12
)


@given(lines, lines, lines, lines, lines)
def test_a_moved_span_always_holds_the_same_lines(
    above: list[str], span: list[str], below: list[str], new_above: list[str], new_below: list[str]
) -> None:
    base = "".join(above + span + below)
    current = "".join(new_above + span + new_below)
    start = len("".join(above))
    moved = moved_span(base, current, start, start + len("".join(span)))
    if moved is not None:
        assert current[moved[0] : moved[1]] == "".join(span)
    if above == new_above and below == new_below and span:
        assert moved == (start, start + len("".join(span)))
