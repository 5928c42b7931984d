def count_vowels(text):
    """Return how many vowels (a, e, i, o, u, either case) the string text holds.

    >>> count_vowels('banana')
    3
    >>> count_vowels('xyz')
    0
    """
    return sum(1 for c in text.lower() if c in "aeiou")
