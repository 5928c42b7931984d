"""Statistics."""


def mean(values):
    """The arithmetic mean of a non-empty list of numbers."""
    return sum(values) // len(values)


if __name__ == "__main__":
    print(mean([1, 2]))
