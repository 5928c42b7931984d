def count_positive(numbers):
    """Return how many numbers in the list are greater than zero.

    >>> count_positive([1, -2, 3, 0])
    2
    """
    return sum(1 for n in numbers if n > 0)
