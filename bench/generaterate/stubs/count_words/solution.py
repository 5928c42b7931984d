def count_words(sentence):
    """Return the number of words in sentence, split on whitespace.

    >>> count_words('the quick brown fox')
    4
    >>> count_words('')
    0
    """
    return len(sentence.split())
