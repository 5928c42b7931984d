def square(x):
    """Return x multiplied by itself.

    >>> square(3)
    9
    >>> square(-2)
    4
    """
    return x * x
