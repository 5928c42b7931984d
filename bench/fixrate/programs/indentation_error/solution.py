"""Shopping totals."""


def total(prices):
    """Sum of the prices."""
    result = 0
    for price in prices:
        result += price
    return result


if __name__ == "__main__":
    print(total([1, 2, 3]))
