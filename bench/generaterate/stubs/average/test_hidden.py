"""Hidden tests for average(): the generate loop never sees them."""

from stub import average


def test_average_1():
    assert average([1, 2]) == 1.5


def test_average_2():
    assert average([-2, 2]) == 0


def test_average_3():
    assert average([10, 20, 30, 40]) == 25
