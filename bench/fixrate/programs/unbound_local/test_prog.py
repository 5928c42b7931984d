from prog import find_index


def test_found():
    assert find_index([4, 5, 5], 5) == 1


def test_absent():
    assert find_index([4, 5], 9) == -1


def test_empty():
    assert find_index([], 1) == -1
