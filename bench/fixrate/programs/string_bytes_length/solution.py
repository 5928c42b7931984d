"""Encoded sizes."""


def utf8_size(text):
    """How many bytes text takes when encoded as UTF-8."""
    return len(text.encode("utf-8"))


if __name__ == "__main__":
    print(utf8_size("héllo"))
