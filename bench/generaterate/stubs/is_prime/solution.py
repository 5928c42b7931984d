def is_prime(n):
    """Return True if the integer n is a prime number.

    >>> is_prime(7)
    True
    >>> is_prime(8)
    False
    >>> is_prime(1)
    False
    """
    if n < 2:
        return False
    return all(n % d != 0 for d in range(2, int(n**0.5) + 1))
