"""Hidden tests for last_element(): the generate loop never sees them."""

from stub import last_element


def test_last_element_1():
    assert last_element(["a"]) == "a"


def test_last_element_2():
    assert last_element([]) is None


def test_last_element_3():
    assert last_element([0, 0, 9]) == 9
