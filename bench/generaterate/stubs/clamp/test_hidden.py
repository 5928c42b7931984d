"""Hidden tests for clamp(): the generate loop never sees them."""

from stub import clamp


def test_clamp_1():
    assert clamp(0, 0, 10) == 0


def test_clamp_2():
    assert clamp(10, 0, 10) == 10


def test_clamp_3():
    assert clamp(7, 8, 9) == 8
