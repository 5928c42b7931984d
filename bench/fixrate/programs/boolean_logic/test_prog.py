from prog import in_range


def test_inside():
    assert in_range(5, 0, 10)


def test_above():
    assert not in_range(50, 0, 10)


def test_below():
    assert not in_range(-1, 0, 10)


def test_edges():
    assert in_range(0, 0, 10) and in_range(10, 0, 10)
