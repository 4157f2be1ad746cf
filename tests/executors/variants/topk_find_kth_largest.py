# task: topk; callable: find_kth_largest; as: topk_heap
# ruff: noqa  (candidate code: test data, not project code)
import heapq


def find_kth_largest(nums, k):
    """The LeetCode name: a min-heap of the k largest."""
    heap = []
    for x in nums:
        if len(heap) < k:
            heapq.heappush(heap, x)
        elif x > heap[0]:
            heapq.heapreplace(heap, x)
    return heap[0]
