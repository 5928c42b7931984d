"""Weighted score of a game."""


def score(hits, bonus):
    """Each hit is worth 2 points; the bonus is added once."""
    return hits * 2 + bonus


if __name__ == "__main__":
    print(score(3, 1))
