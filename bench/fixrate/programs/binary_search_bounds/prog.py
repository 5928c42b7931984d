"""Binary search."""


def binary_search(items, target):
    """Index of target in the sorted list items, or -1 when it is absent."""
    low, high = 0, len(items)
    while low <= high:
        mid = (low + high) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            low = mid + 1
        else:
            high = mid - 1
    return -1


if __name__ == "__main__":
    print(binary_search([1, 3, 5], 7))
