from prog import sum_list


def test_sum():
    assert sum_list([1, 2, 3]) == 6


def test_empty():
    assert sum_list([]) == 0
