"""Users."""


def city_of(user):
    """The city in user['address']['city'], or None when the user has no address."""
    address = user.get("address")
    if not address:
        return None
    return address.get("city")


if __name__ == "__main__":
    print(city_of({"name": "Ann"}))
