"""A counter."""


class Counter:
    """Counts up from zero."""

    def __init__(self):
        self.value = 0

    def increment(self):
        self.value += 1
        return self.value


if __name__ == "__main__":
    counter = Counter()
    print(counter.increment())
