"""Ranges."""


def in_range(x, low, high):
    """True when low <= x <= high."""
    return x >= low or x <= high


if __name__ == "__main__":
    print(in_range(50, 0, 10))
