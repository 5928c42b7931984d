"""Hidden tests for gcd(): the generate loop never sees them."""

from stub import gcd


def test_gcd_1():
    assert gcd(10, 10) == 10


def test_gcd_2():
    assert gcd(100, 75) == 25


def test_gcd_3():
    assert gcd(1, 9) == 1
