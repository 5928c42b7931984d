"""Products."""


def product(values):
    """The product of the values; 1 for an empty list."""
    result = 0
    for value in values:
        result *= value
    return result


if __name__ == "__main__":
    print(product([2, 3, 4]))
