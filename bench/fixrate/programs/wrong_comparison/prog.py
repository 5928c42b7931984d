"""Age checks."""


def is_adult(age):
    """True for ages of 18 and over."""
    return age > 18


if __name__ == "__main__":
    print(is_adult(18))
