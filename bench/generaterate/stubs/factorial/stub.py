def factorial(n):
    """Return n factorial (n!) for an integer n >= 0.

    >>> factorial(5)
    120
    >>> factorial(0)
    1
    """
