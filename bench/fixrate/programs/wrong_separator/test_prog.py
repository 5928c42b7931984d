from prog import parse_csv_line


def test_fields():
    assert parse_csv_line("a, b,c") == ["a", "b", "c"]


def test_single():
    assert parse_csv_line("x") == ["x"]
