"""List helpers."""


def last(items):
    """The last element of a non-empty list."""
    return items[len(items) - 1]


if __name__ == "__main__":
    print(last([1, 2, 3]))
