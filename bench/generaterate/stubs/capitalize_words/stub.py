def capitalize_words(sentence):
    """Return sentence with the first letter of every word in upper case and the rest in lower case.

    >>> capitalize_words('hello world')
    'Hello World'
    """
