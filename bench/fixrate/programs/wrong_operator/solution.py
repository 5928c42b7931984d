"""Rectangles."""


def area(width, height):
    """Area of a width x height rectangle."""
    return width * height


if __name__ == "__main__":
    print(area(2, 5))
