from prog import maximum


def test_middle():
    assert maximum([3, 9, 4]) == 9


def test_first():
    assert maximum([5, 1]) == 5


def test_negative():
    assert maximum([-4, -2, -8]) == -2
