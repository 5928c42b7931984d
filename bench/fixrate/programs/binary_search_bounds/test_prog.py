from prog import binary_search


def test_found():
    assert binary_search([1, 3, 5, 7], 5) == 2


def test_above_all():
    assert binary_search([1, 3, 5], 7) == -1


def test_below_all():
    assert binary_search([1, 3, 5], 0) == -1


def test_empty():
    assert binary_search([], 3) == -1
