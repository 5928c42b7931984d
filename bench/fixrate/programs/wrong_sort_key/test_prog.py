from prog import youngest_first


def test_order():
    people = [{"name": "Ann", "age": 40}, {"name": "Bob", "age": 20}, {"name": "Cy", "age": 30}]
    assert [p["name"] for p in youngest_first(people)] == ["Bob", "Cy", "Ann"]


def test_empty():
    assert youngest_first([]) == []
