"""Greetings."""


def greeting(name, age):
    """A sentence like 'Ann is 30 years old'."""
    return name + " is " + age + " years old"


if __name__ == "__main__":
    print(greeting("Ann", 30))
