"""Shouting."""


def shout(text):
    """text in capitals followed by '!'."""
    return text.uppercase() + "!"


if __name__ == "__main__":
    print(shout("hi"))
