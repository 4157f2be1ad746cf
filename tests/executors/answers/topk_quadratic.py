# ruff: noqa  (candidate code: test data, not project code)
def kth_largest(nums, k):
    """Insertion into a sorted list by linear scan: O(n^2) in Python-level steps."""
    ordered = []
    for x in nums:
        i = 0
        while i < len(ordered) and ordered[i] < x:
            i += 1
        ordered.insert(i, x)
    return ordered[len(ordered) - k]
