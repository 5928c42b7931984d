"""Filtering."""


def remove_negatives(values):
    """A list of the values that are not negative, in order."""
    return [value for value in values if value >= 0]


if __name__ == "__main__":
    print(remove_negatives([-1, -2, 3]))
