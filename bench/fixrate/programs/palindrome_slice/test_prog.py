from prog import is_palindrome


def test_yes():
    assert is_palindrome("level")


def test_no():
    assert not is_palindrome("levels")


def test_empty():
    assert is_palindrome("")
