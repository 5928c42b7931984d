from prog import is_adult


def test_eighteen():
    assert is_adult(18)


def test_child():
    assert not is_adult(17)


def test_older():
    assert is_adult(40)
