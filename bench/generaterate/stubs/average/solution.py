def average(numbers):
    """Return the arithmetic mean of a non-empty list of numbers.

    >>> average([1, 2, 3])
    2.0
    >>> average([4])
    4.0
    """
    return sum(numbers) / len(numbers)
