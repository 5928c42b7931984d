from prog import safe_ratio


def test_ratio():
    assert safe_ratio(6, 3) == 2


def test_zero():
    assert safe_ratio(1, 0) is None
