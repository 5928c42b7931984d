def is_even(n):
    """Return True if the integer n is even, otherwise False.

    >>> is_even(4)
    True
    >>> is_even(7)
    False
    """
