"""Float comparison."""


def close_enough(a, b):
    """True when a and b differ by less than 1e-9."""
    return a == b


if __name__ == "__main__":
    print(close_enough(0.1 + 0.2, 0.3))
