from prog import digit_sum


def test_digits():
    assert digit_sum(123) == 6


def test_zero():
    assert digit_sum(0) == 0
