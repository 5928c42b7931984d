from prog import first_word


def test_words():
    assert first_word("hello world") == "hello"


def test_none():
    assert first_word(None) == ""


def test_blank():
    assert first_word("   ") == ""
