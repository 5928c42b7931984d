def digits_sum(n):
    """Return the sum of the decimal digits of the non-negative integer n.

    >>> digits_sum(123)
    6
    >>> digits_sum(0)
    0
    """
