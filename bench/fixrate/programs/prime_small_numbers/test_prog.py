from prog import is_prime


def test_small():
    assert [n for n in range(10) if is_prime(n)] == [2, 3, 5, 7]


def test_composite():
    assert not is_prime(91)
