def flatten(lists):
    """Return one list holding the elements of every list in lists, in order.

    >>> flatten([[1, 2], [3], []])
    [1, 2, 3]
    """
    return [item for inner in lists for item in inner]
