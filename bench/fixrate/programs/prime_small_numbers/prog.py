"""Primes."""


def is_prime(n):
    """True when n is a prime number (0 and 1 are not prime)."""
    for i in range(2, n):
        if n % i == 0:
            return False
    return True


if __name__ == "__main__":
    print([n for n in range(10) if is_prime(n)])
