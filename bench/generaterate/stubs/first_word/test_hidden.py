"""Hidden tests for first_word(): the generate loop never sees them."""

from stub import first_word


def test_first_word_1():
    assert first_word("one") == "one"


def test_first_word_2():
    assert first_word("  padded start") == "padded"


def test_first_word_3():
    assert first_word("a b c") == "a"
