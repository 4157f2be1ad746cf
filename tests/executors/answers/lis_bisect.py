# ruff: noqa  (candidate code: test data, not project code)
from bisect import bisect_left


def longest_increasing_subsequence(nums):
    """Patience sorting with predecessor links: O(n log n)."""
    tails, tail_idx, prev = [], [], [-1] * len(nums)
    for i, x in enumerate(nums):
        j = bisect_left(tails, x)
        prev[i] = tail_idx[j - 1] if j else -1
        if j == len(tails):
            tails.append(x)
            tail_idx.append(i)
        else:
            tails[j], tail_idx[j] = x, i
    out, i = [], tail_idx[-1] if tail_idx else -1
    while i >= 0:
        out.append(nums[i])
        i = prev[i]
    return len(tails), out[::-1]
