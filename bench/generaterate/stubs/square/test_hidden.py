"""Hidden tests for square(): the generate loop never sees them."""

from stub import square


def test_square_1():
    assert square(0) == 0


def test_square_2():
    assert square(5) == 25


def test_square_3():
    assert square(-7) == 49
