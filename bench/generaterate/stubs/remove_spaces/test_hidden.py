"""Hidden tests for remove_spaces(): the generate loop never sees them."""

from stub import remove_spaces


def test_remove_spaces_1():
    assert remove_spaces("") == ""


def test_remove_spaces_2():
    assert remove_spaces("nospace") == "nospace"


def test_remove_spaces_3():
    assert remove_spaces("   ") == ""
