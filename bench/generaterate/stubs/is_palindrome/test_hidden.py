"""Hidden tests for is_palindrome(): the generate loop never sees them."""

from stub import is_palindrome


def test_is_palindrome_1():
    assert is_palindrome("") is True


def test_is_palindrome_2():
    assert is_palindrome("ab") is False


def test_is_palindrome_3():
    assert is_palindrome("racecar") is True
