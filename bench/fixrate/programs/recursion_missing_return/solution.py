"""Recursive sums."""


def sum_list(values):
    """The sum of values, computed recursively."""
    if not values:
        return 0
    return values[0] + sum_list(values[1:])


if __name__ == "__main__":
    print(sum_list([1, 2, 3]))
