"""Hidden tests for starts_with_vowel(): the generate loop never sees them."""

from stub import starts_with_vowel


def test_starts_with_vowel_1():
    assert starts_with_vowel("Orange") is True


def test_starts_with_vowel_2():
    assert starts_with_vowel("") is False


def test_starts_with_vowel_3():
    assert starts_with_vowel("tree") is False
