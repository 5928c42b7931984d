"""Order totals."""


def order_total(quantities, unit_price):
    """Total price of all quantities at unit_price."""
    count = 0
    for quantity in quantities:
        count += quantity
    return count * unit_price


if __name__ == "__main__":
    print(order_total([1, 2], 3))
