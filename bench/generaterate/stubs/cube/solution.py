def cube(x):
    """Return x to the power of three.

    >>> cube(2)
    8
    >>> cube(-3)
    -27
    """
    return x**3
