from prog import area


def test_area():
    assert area(2, 5) == 10


def test_square():
    assert area(3, 3) == 9


def test_zero():
    assert area(0, 7) == 0
