"""People."""


def youngest_first(people):
    """The people (dicts with 'name' and 'age') sorted by age, youngest first."""
    return sorted(people, key=lambda person: person["age"])


if __name__ == "__main__":
    print(youngest_first([{"name": "Ann", "age": 40}, {"name": "Bob", "age": 20}]))
