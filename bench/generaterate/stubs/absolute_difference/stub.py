def absolute_difference(a, b):
    """Return the absolute value of the difference between a and b.

    >>> absolute_difference(3, 10)
    7
    >>> absolute_difference(10, 3)
    7
    """
