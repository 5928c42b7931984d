"""Hidden tests for capitalize_words(): the generate loop never sees them."""

from stub import capitalize_words


def test_capitalize_words_1():
    assert capitalize_words("") == ""


def test_capitalize_words_2():
    assert capitalize_words("pYTHON") == "Python"


def test_capitalize_words_3():
    assert capitalize_words("a b") == "A B"
