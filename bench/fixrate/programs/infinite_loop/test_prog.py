from prog import countdown


def test_three():
    assert countdown(3) == [3, 2, 1]


def test_zero():
    assert countdown(0) == []
