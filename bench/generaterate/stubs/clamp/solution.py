def clamp(value, low, high):
    """Return value limited to the range from low to high (inclusive).

    >>> clamp(5, 0, 10)
    5
    >>> clamp(-3, 0, 10)
    0
    >>> clamp(12, 0, 10)
    10
    """
    return max(low, min(value, high))
