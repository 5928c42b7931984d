"""Word counts."""


def count_words(text):
    """A dict mapping each word of text to how often it occurs."""
    counts = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return counts


if __name__ == "__main__":
    print(count_words("a b a"))
