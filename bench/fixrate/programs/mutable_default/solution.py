"""Shopping baskets."""


def add_item(item, basket=None):
    """Return basket with item appended; without a basket, a new list holding only item."""
    if basket is None:
        basket = []
    basket.append(item)
    return basket


if __name__ == "__main__":
    print(add_item("apple"))
    print(add_item("pear"))
