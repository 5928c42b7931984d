"""Geometry."""

import math


def hypotenuse(a, b):
    """Length of the hypotenuse of a right triangle with legs a and b."""
    return math.sqrt(a * a + b * b)


if __name__ == "__main__":
    print(hypotenuse(3, 4))
