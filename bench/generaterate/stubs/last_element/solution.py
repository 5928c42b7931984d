def last_element(items):
    """Return the last element of a list, or None when the list is empty.

    >>> last_element([1, 2, 3])
    3
    >>> print(last_element([]))
    None
    """
    return items[-1] if items else None
