def join_with_commas(words):
    """Return the words joined with a comma and a space between them.

    >>> join_with_commas(['a', 'b', 'c'])
    'a, b, c'
    """
