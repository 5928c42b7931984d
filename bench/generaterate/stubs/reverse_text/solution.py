def reverse_text(text):
    """Return the string text reversed.

    >>> reverse_text('abc')
    'cba'
    """
    return text[::-1]
