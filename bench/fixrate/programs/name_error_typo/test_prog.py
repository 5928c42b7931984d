from prog import order_total


def test_total():
    assert order_total([1, 2], 3) == 9


def test_empty():
    assert order_total([], 10) == 0
