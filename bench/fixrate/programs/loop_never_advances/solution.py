"""Digit sums."""


def digit_sum(n):
    """The sum of the decimal digits of a non-negative integer."""
    total = 0
    while n > 0:
        total += n % 10
        n //= 10
    return total


if __name__ == "__main__":
    print(digit_sum(123))
