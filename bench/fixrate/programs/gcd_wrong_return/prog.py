"""Greatest common divisor."""


def gcd(a, b):
    """The greatest common divisor of two positive integers (Euclid)."""
    while b != 0:
        a, b = b, a % b
    return b


if __name__ == "__main__":
    print(gcd(12, 18))
