"""Hidden tests for fibonacci(): the generate loop never sees them."""

from stub import fibonacci


def test_fibonacci_1():
    assert fibonacci(0) == 0


def test_fibonacci_2():
    assert fibonacci(2) == 1


def test_fibonacci_3():
    assert fibonacci(10) == 55
