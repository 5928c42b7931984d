def min_and_max(numbers):
    """Return a tuple (smallest, largest) of a non-empty list of numbers.

    >>> min_and_max([3, 1, 4])
    (1, 4)
    """
    return min(numbers), max(numbers)
