"""Searching."""


def find_index(values, target):
    """The index of the first occurrence of target in values, or -1 when it is absent."""
    for i, value in enumerate(values):
        if value == target:
            index = i
            break
    return index


if __name__ == "__main__":
    print(find_index([4, 5], 9))
