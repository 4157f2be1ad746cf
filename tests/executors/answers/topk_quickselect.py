# ruff: noqa  (candidate code: test data, not project code)
import random


def kth_largest(nums, k):
    """Iterative three-way quickselect on a copy: O(n) expected."""
    items, target = list(nums), len(nums) - k
    rng = random.Random(7)
    while True:
        pivot = items[rng.randrange(len(items))]
        lower = [x for x in items if x < pivot]
        equal = sum(1 for x in items if x == pivot)
        if target < len(lower):
            items = lower
        elif target < len(lower) + equal:
            return pivot
        else:
            target -= len(lower) + equal
            items = [x for x in items if x > pivot]
