"""Totals."""


def total(values):
    """The sum of the values."""
    sum = 0
    for value in values:
        sum += value
    return sum(values)


if __name__ == "__main__":
    print(total([1, 2, 3]))
