from prog import label


def test_three():
    assert label(3) == "3 items"


def test_zero():
    assert label(0) == "0 items"
