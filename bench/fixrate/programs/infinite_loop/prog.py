"""Countdowns."""


def countdown(n):
    """The list [n, n-1, ..., 1]."""
    out = []
    while n > 0:
        out.append(n)
    return out


if __name__ == "__main__":
    print(countdown(3))
