from prog import close_enough


def test_rounding():
    assert close_enough(0.1 + 0.2, 0.3)


def test_far():
    assert not close_enough(1.0, 1.1)
