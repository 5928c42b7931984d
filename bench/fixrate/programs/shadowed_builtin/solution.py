"""Totals."""


def total(values):
    """The sum of the values."""
    result = 0
    for value in values:
        result += value
    return result


if __name__ == "__main__":
    print(total([1, 2, 3]))
