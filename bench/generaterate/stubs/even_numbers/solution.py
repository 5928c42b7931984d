def even_numbers(numbers):
    """Return a list of the even numbers in numbers, in their order.

    >>> even_numbers([1, 2, 3, 4])
    [2, 4]
    >>> even_numbers([1, 3])
    []
    """
    return [n for n in numbers if n % 2 == 0]
