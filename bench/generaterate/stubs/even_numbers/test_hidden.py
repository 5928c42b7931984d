"""Hidden tests for even_numbers(): the generate loop never sees them."""

from stub import even_numbers


def test_even_numbers_1():
    assert even_numbers([]) == []


def test_even_numbers_2():
    assert even_numbers([0, 5, 6]) == [0, 6]


def test_even_numbers_3():
    assert even_numbers([8, 2]) == [8, 2]
