from prog import fahrenheit_to_celsius


def test_boiling():
    assert fahrenheit_to_celsius(212) == 100


def test_freezing():
    assert fahrenheit_to_celsius(32) == 0
