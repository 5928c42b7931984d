"""Maximum of a list."""


def maximum(values):
    """The largest value of a non-empty list."""
    best = values[0]
    for value in values:
        if value > best:
            best = value
    return values[0]


if __name__ == "__main__":
    print(maximum([3, 9, 4]))
