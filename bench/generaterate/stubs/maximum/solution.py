def maximum(numbers):
    """Return the largest number in a non-empty list, without using max().

    >>> maximum([3, 9, 2])
    9
    >>> maximum([-5, -1])
    -1
    """
    best = numbers[0]
    for number in numbers[1:]:
        if number > best:
            best = number
    return best
