"""Shopping baskets."""


def add_item(item, basket=[]):
    """Return basket with item appended; without a basket, a new list holding only item."""
    basket.append(item)
    return basket


if __name__ == "__main__":
    print(add_item("apple"))
    print(add_item("pear"))
