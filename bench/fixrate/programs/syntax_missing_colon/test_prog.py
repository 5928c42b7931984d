from prog import is_even


def test_even():
    assert is_even(4)


def test_odd():
    assert not is_even(7)


def test_zero_and_negative():
    assert is_even(0)
    assert is_even(-2)
