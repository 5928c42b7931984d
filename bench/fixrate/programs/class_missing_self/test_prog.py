from prog import Counter


def test_counts():
    counter = Counter()
    assert counter.increment() == 1
    assert counter.increment() == 2
