"""Sums of ranges."""


def sum_to(n):
    """Sum of the integers 1..n inclusive."""
    return sum(range(1, n))


if __name__ == "__main__":
    print(sum_to(10))
