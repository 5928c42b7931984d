from prog import fib


def test_first_values():
    assert [fib(i) for i in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13]


def test_ten():
    assert fib(10) == 55
