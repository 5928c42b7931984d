"""Hidden tests for count_vowels(): the generate loop never sees them."""

from stub import count_vowels


def test_count_vowels_1():
    assert count_vowels("AEIOU") == 5


def test_count_vowels_2():
    assert count_vowels("") == 0


def test_count_vowels_3():
    assert count_vowels("Programming") == 3
