# task: lis; callable: lis; as: lis_bisect
# ruff: noqa  (candidate code: test data, not project code)
from bisect import bisect_left


def lis(arr):
    """Patience sorting with predecessor links: O(n log n), under the short name."""
    tails, tail_index, previous = [], [], [-1] * len(arr)
    for i, x in enumerate(arr):
        j = bisect_left(tails, x)
        previous[i] = tail_index[j - 1] if j else -1
        if j == len(tails):
            tails.append(x)
            tail_index.append(i)
        else:
            tails[j], tail_index[j] = x, i
    sequence, i = [], tail_index[-1] if tail_index else -1
    while i >= 0:
        sequence.append(arr[i])
        i = previous[i]
    return len(tails), sequence[::-1]
