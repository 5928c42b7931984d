from prog import city_of


def test_city():
    assert city_of({"address": {"city": "Oslo"}}) == "Oslo"


def test_no_address():
    assert city_of({"name": "Ann"}) is None
