from prog import score


def test_score():
    assert score(3, 1) == 7


def test_no_hits():
    assert score(0, 5) == 5
