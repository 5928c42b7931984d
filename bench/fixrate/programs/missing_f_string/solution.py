"""Labels."""


def label(count):
    """A label like '3 items'."""
    return f"{count} items"


if __name__ == "__main__":
    print(label(3))
