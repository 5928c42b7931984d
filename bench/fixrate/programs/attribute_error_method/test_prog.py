from prog import shout


def test_shout():
    assert shout("hi") == "HI!"


def test_empty():
    assert shout("") == "!"
