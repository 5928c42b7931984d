"""Hidden tests for absolute_difference(): the generate loop never sees them."""

from stub import absolute_difference


def test_absolute_difference_1():
    assert absolute_difference(0, 0) == 0


def test_absolute_difference_2():
    assert absolute_difference(-5, 5) == 10


def test_absolute_difference_3():
    assert absolute_difference(2.5, 1) == 1.5
