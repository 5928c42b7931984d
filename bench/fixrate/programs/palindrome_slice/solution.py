"""Palindromes."""


def is_palindrome(word):
    """True when word reads the same backwards."""
    return word == word[::-1]


if __name__ == "__main__":
    print(is_palindrome("level"))
