"""Ratios."""


def safe_ratio(a, b):
    """a / b, or None when b is zero."""
    if b == 0:
        return None
    return a / b


if __name__ == "__main__":
    print(safe_ratio(1, 0))
