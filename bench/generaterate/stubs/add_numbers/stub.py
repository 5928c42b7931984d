def add_numbers(a, b):
    """Return the sum of a and b.

    >>> add_numbers(2, 3)
    5
    """
