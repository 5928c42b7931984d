def remove_spaces(text):
    """Return text with every space character removed.

    >>> remove_spaces('a b  c')
    'abc'
    """
    return text.replace(" ", "")
