"""Clamping numbers."""


def clamp(x, low, high):
    """x limited to the range low..high."""
    result = max(low, min(x, high))


if __name__ == "__main__":
    print(clamp(15, 0, 10))
