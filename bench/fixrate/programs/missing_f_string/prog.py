"""Labels."""


def label(count):
    """A label like '3 items'."""
    return "{count} items"


if __name__ == "__main__":
    print(label(3))
