"""Hidden tests for is_even(): the generate loop never sees them."""

from stub import is_even


def test_is_even_1():
    assert is_even(0) is True


def test_is_even_2():
    assert is_even(-3) is False


def test_is_even_3():
    assert is_even(100) is True
