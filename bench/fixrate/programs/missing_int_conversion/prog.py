"""Parsing numbers."""


def parse_ints(text):
    """The integers in a comma-separated string such as '1,2,3'."""
    return [part.strip() for part in text.split(",")]


if __name__ == "__main__":
    print(sum(parse_ints("1, 2, 3")))
