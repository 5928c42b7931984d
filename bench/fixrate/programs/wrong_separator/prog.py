"""CSV."""


def parse_csv_line(line):
    """The comma-separated fields of line, without surrounding spaces."""
    return [field.strip() for field in line.split(";")]


if __name__ == "__main__":
    print(parse_csv_line("a, b,c"))
