"""Hidden tests for maximum(): the generate loop never sees them."""

from stub import maximum


def test_maximum_1():
    assert maximum([7]) == 7


def test_maximum_2():
    assert maximum([1, 2, 3, 4]) == 4


def test_maximum_3():
    assert maximum([4, 3, 2, 1]) == 4
