def is_prime(n):
    """Return True if the integer n is a prime number.

    >>> is_prime(7)
    True
    >>> is_prime(8)
    False
    >>> is_prime(1)
    False
    """
