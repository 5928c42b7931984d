"""Users."""


def city_of(user):
    """The city in user['address']['city'], or None when the user has no address."""
    return user["address"]["city"]


if __name__ == "__main__":
    print(city_of({"name": "Ann"}))
