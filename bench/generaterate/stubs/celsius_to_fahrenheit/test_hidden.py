"""Hidden tests for celsius_to_fahrenheit(): the generate loop never sees them."""

from stub import celsius_to_fahrenheit


def test_celsius_to_fahrenheit_1():
    assert celsius_to_fahrenheit(-40) == -40


def test_celsius_to_fahrenheit_2():
    assert celsius_to_fahrenheit(37) == 98.6 or abs(celsius_to_fahrenheit(37) - 98.6) < 1e-9


def test_celsius_to_fahrenheit_3():
    assert celsius_to_fahrenheit(10) == 50
