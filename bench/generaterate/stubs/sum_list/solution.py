def sum_list(numbers):
    """Return the sum of the numbers in the list numbers (0 for an empty list).

    >>> sum_list([1, 2, 3])
    6
    >>> sum_list([])
    0
    """
    total = 0
    for number in numbers:
        total += number
    return total
