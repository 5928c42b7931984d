from prog import utf8_size


def test_ascii():
    assert utf8_size("hello") == 5


def test_accent():
    assert utf8_size("héllo") == 6
