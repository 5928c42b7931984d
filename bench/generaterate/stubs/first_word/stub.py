def first_word(sentence):
    """Return the first word of sentence (words are separated by spaces).

    >>> first_word('hello big world')
    'hello'
    """
