"""Sample programs shared by the end-to-end tests: a buggy function and its fix."""

BUGGY = """def average(values):
    total = 0
    for value in values:
        total += value
    return total / len(value)


print(average([1, 2, 3]))
"""
FIXED_FUNCTION = """def average(values):
    total = 0
    for value in values:
        total += value
    return total / len(values)
"""
FIXED = BUGGY.replace("len(value)", "len(values)")
