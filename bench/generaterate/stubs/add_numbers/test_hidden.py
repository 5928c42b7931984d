"""Hidden tests for add_numbers(): the generate loop never sees them."""

from stub import add_numbers


def test_add_numbers_1():
    assert add_numbers(-1, 1) == 0


def test_add_numbers_2():
    assert add_numbers(10, 32) == 42


def test_add_numbers_3():
    assert add_numbers(0, 0) == 0
