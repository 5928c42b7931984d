"""Factorials."""


def factorial(n):
    """n! for n >= 0 (0! is 1)."""
    if n == 1:
        return 1
    return n * factorial(n - 1)


if __name__ == "__main__":
    print(factorial(0))
