# ruff: noqa  (candidate code: test data, not project code)
import heapq


def kth_largest(nums, k):
    """Min-heap of the k largest: O(n log k)."""
    heap = nums[:k]
    heapq.heapify(heap)
    for x in nums[k:]:
        if x > heap[0]:
            heapq.heapreplace(heap, x)
    return heap[0]
