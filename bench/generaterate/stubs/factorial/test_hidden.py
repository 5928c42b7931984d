"""Hidden tests for factorial(): the generate loop never sees them."""

from stub import factorial


def test_factorial_1():
    assert factorial(1) == 1


def test_factorial_2():
    assert factorial(6) == 720


def test_factorial_3():
    assert factorial(10) == 3628800
