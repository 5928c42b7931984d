"""Hidden tests for digits_sum(): the generate loop never sees them."""

from stub import digits_sum


def test_digits_sum_1():
    assert digits_sum(9) == 9


def test_digits_sum_2():
    assert digits_sum(1001) == 2


def test_digits_sum_3():
    assert digits_sum(99999) == 45
