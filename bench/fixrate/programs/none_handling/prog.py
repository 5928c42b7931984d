"""Text helpers."""


def first_word(text):
    """The first word of text; an empty string when text is None or has no words."""
    return text.split()[0]


if __name__ == "__main__":
    print(first_word("hello world"))
    print(first_word(None))
