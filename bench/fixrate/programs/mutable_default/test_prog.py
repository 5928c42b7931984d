from prog import add_item


def test_fresh_lists():
    assert add_item("apple") == ["apple"]
    assert add_item("pear") == ["pear"]


def test_given_basket():
    basket = ["x"]
    assert add_item("y", basket) == ["x", "y"]
