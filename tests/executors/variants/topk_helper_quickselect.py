# task: topk; callable: kth; as: topk_quickselect
# ruff: noqa  (candidate code: test data, not project code)
import random


def partition(items, pivot):
    return [x for x in items if x < pivot], sum(1 for x in items if x == pivot), [x for x in items if x > pivot]


def quickselect(arr, target):
    """Helpers whose parameters fit the task too; kth calls them and nothing calls kth: kth is the answer."""
    rng = random.Random(7)
    items = list(arr)
    while True:
        pivot = items[rng.randrange(len(items))]
        lower, equal, upper = partition(items, pivot)
        if target < len(lower):
            items = lower
        elif target < len(lower) + equal:
            return pivot
        else:
            target -= len(lower) + equal
            items = upper


def kth(arr, k):
    return quickselect(arr, len(arr) - k)
