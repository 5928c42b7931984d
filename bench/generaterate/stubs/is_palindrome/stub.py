def is_palindrome(text):
    """Return True if text reads the same forwards and backwards.

    >>> is_palindrome('level')
    True
    >>> is_palindrome('hello')
    False
    """
