def char_count(text, char):
    """Return how many times the single character char appears in text.

    >>> char_count('banana', 'a')
    3
    >>> char_count('banana', 'z')
    0
    """
