"""Hidden tests for is_prime(): the generate loop never sees them."""

from stub import is_prime


def test_is_prime_1():
    assert is_prime(2) is True


def test_is_prime_2():
    assert is_prime(9) is False


def test_is_prime_3():
    assert is_prime(97) is True


def test_is_prime_4():
    assert is_prime(0) is False
