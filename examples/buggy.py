"""A small program with a bug for trying `code-evolver fix examples/buggy.py`."""


def average(values):
    total = 0
    for value in values:
        total += value
    return total / len(value)


if __name__ == "__main__":
    print(average([1, 2, 3, 4]))
