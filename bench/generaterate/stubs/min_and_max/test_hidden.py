"""Hidden tests for min_and_max(): the generate loop never sees them."""

from stub import min_and_max


def test_min_and_max_1():
    assert min_and_max([7]) == (7, 7)


def test_min_and_max_2():
    assert min_and_max([-1, -9, 0]) == (-9, 0)


def test_min_and_max_3():
    assert min_and_max([2, 2, 3]) == (2, 3)
