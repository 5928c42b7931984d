"""Hidden tests for reverse_text(): the generate loop never sees them."""

from stub import reverse_text


def test_reverse_text_1():
    assert reverse_text("") == ""


def test_reverse_text_2():
    assert reverse_text("hello") == "olleh"


def test_reverse_text_3():
    assert reverse_text("a b") == "b a"
