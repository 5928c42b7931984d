def unique_sorted(items):
    """Return the distinct items of a list, sorted ascending.

    >>> unique_sorted([3, 1, 3, 2])
    [1, 2, 3]
    """
    return sorted(set(items))
