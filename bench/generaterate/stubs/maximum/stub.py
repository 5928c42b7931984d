def maximum(numbers):
    """Return the largest number in a non-empty list, without using max().

    >>> maximum([3, 9, 2])
    9
    >>> maximum([-5, -1])
    -1
    """
