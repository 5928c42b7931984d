"""Hidden tests for flatten(): the generate loop never sees them."""

from stub import flatten


def test_flatten_1():
    assert flatten([]) == []


def test_flatten_2():
    assert flatten([[], []]) == []


def test_flatten_3():
    assert flatten([["a"], ["b", "c"]]) == ["a", "b", "c"]
