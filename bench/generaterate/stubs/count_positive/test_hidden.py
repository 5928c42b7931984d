"""Hidden tests for count_positive(): the generate loop never sees them."""

from stub import count_positive


def test_count_positive_1():
    assert count_positive([]) == 0


def test_count_positive_2():
    assert count_positive([-1, -2]) == 0


def test_count_positive_3():
    assert count_positive([5, 5, 5]) == 3
