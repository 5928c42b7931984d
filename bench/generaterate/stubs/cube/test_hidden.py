"""Hidden tests for cube(): the generate loop never sees them."""

from stub import cube


def test_cube_1():
    assert cube(0) == 0


def test_cube_2():
    assert cube(4) == 64


def test_cube_3():
    assert cube(1) == 1
