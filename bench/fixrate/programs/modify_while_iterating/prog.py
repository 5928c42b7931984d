"""Filtering."""


def remove_negatives(values):
    """A list of the values that are not negative, in order."""
    for value in values:
        if value < 0:
            values.remove(value)
    return values


if __name__ == "__main__":
    print(remove_negatives([-1, -2, 3]))
