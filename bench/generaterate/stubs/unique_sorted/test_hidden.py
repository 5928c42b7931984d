"""Hidden tests for unique_sorted(): the generate loop never sees them."""

from stub import unique_sorted


def test_unique_sorted_1():
    assert unique_sorted([]) == []


def test_unique_sorted_2():
    assert unique_sorted([5, 5, 5]) == [5]


def test_unique_sorted_3():
    assert unique_sorted(["b", "a"]) == ["a", "b"]
