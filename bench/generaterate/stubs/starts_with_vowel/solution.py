def starts_with_vowel(word):
    """Return True if word begins with a vowel (a, e, i, o, u, either case).

    >>> starts_with_vowel('apple')
    True
    >>> starts_with_vowel('Banana')
    False
    """
    return bool(word) and word[0].lower() in "aeiou"
