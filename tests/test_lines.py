"""Lines by LSP rules: only \\n, \\r\\n and \\r end one."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from code_evolver.pipeline.lines import line_ending, line_starts, split_lines, with_line_ending

ODD = "\x0c\x0b\x1c\x1d\x1e\x85\u2028\u2029"


def test_only_lsp_line_ends_break_a_line() -> None:
    assert split_lines("a\r\nb\rc\nd\x0ce\u2028f\n") == ["a", "b", "c", "d\x0ce\u2028f"]
    assert split_lines("a\r\nb\rc\n", keepends=True) == ["a\r\n", "b\r", "c\n"]
    assert split_lines(f"x{ODD}y") == [f"x{ODD}y"]
    assert split_lines("") == [] == split_lines("", keepends=True)
    assert split_lines("\n") == [""]


def test_the_file_keeps_its_own_line_ending() -> None:
    assert line_ending("a\rb\r") == "\r"
    assert line_ending("a\r\nb\n") == "\r\n"
    assert line_ending("no end") == "\n"
    assert with_line_ending("a\nb\r\nc\rd", "\r") == "a\rb\rc\rd"


@given(st.lists(st.sampled_from(["a", "\t", "\r", "\n", "\r\n", *ODD, "😀"])).map("".join))
def test_lines_join_back_and_starts_agree(text: str) -> None:
    lines = split_lines(text, keepends=True)
    assert "".join(lines) == text
    starts = line_starts(text)
    assert len(starts) == len(lines) + 1
    assert [text[a:b] for a, b in itertools.pairwise(starts)] == lines
    assert split_lines(text) == [line.rstrip("\r\n") for line in lines]
