"""Hidden tests for repeat_text(): the generate loop never sees them."""

from stub import repeat_text


def test_repeat_text_1():
    assert repeat_text("", 5) == ""


def test_repeat_text_2():
    assert repeat_text("hi", 1) == "hi"


def test_repeat_text_3():
    assert repeat_text("-", 4) == "----"
