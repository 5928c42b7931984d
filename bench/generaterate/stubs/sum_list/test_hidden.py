"""Hidden tests for sum_list(): the generate loop never sees them."""

from stub import sum_list


def test_sum_list_1():
    assert sum_list([5]) == 5


def test_sum_list_2():
    assert sum_list([-1, 1, 10]) == 10


def test_sum_list_3():
    assert sum_list([0.5, 0.5]) == 1.0
