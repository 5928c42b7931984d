"""Hidden tests for char_count(): the generate loop never sees them."""

from stub import char_count


def test_char_count_1():
    assert char_count("", "a") == 0


def test_char_count_2():
    assert char_count("aaaa", "a") == 4


def test_char_count_3():
    assert char_count("Aa", "a") == 1
