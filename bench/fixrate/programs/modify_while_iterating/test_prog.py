from prog import remove_negatives


def test_adjacent_negatives():
    assert remove_negatives([-1, -2, 3]) == [3]


def test_none_negative():
    assert remove_negatives([1, 0]) == [1, 0]
