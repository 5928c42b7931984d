"""Parity helpers."""


def is_even(n)
    """Return True when n is even."""
    return n % 2 == 0


if __name__ == "__main__":
    print(is_even(4))
