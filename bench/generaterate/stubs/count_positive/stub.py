def count_positive(numbers):
    """Return how many numbers in the list are greater than zero.

    >>> count_positive([1, -2, 3, 0])
    2
    """
