def factorial(n):
    """Return n factorial (n!) for an integer n >= 0.

    >>> factorial(5)
    120
    >>> factorial(0)
    1
    """
    result = 1
    for i in range(2, n + 1):
        result *= i
    return result
