def repeat_text(text, times):
    """Return text repeated times times, joined with nothing.

    >>> repeat_text('ab', 3)
    'ababab'
    >>> repeat_text('x', 0)
    ''
    """
    return text * times
