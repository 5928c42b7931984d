from prog import header_label


def test_http():
    assert header_label(b"HTTP/1.1 200 OK") == "HTTP:"


def test_short():
    assert header_label(b"ab") == "ab:"
