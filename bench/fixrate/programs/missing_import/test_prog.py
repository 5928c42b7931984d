from prog import hypotenuse


def test_345():
    assert hypotenuse(3, 4) == 5


def test_zero():
    assert hypotenuse(0, 2) == 2
