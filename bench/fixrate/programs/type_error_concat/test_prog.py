from prog import greeting


def test_greeting():
    assert greeting("Ann", 30) == "Ann is 30 years old"


def test_other():
    assert greeting("Bo", 7) == "Bo is 7 years old"
