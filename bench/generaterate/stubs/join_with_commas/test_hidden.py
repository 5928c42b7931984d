"""Hidden tests for join_with_commas(): the generate loop never sees them."""

from stub import join_with_commas


def test_join_with_commas_1():
    assert join_with_commas([]) == ""


def test_join_with_commas_2():
    assert join_with_commas(["one"]) == "one"


def test_join_with_commas_3():
    assert join_with_commas(["x", "y"]) == "x, y"
