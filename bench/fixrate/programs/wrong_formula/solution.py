"""Temperatures."""


def fahrenheit_to_celsius(f):
    """Degrees Fahrenheit converted to degrees Celsius."""
    return (f - 32) * 5 / 9


if __name__ == "__main__":
    print(fahrenheit_to_celsius(212))
