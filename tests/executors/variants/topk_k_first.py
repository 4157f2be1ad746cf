# task: topk; callable: top_k; as: topk_heap
# ruff: noqa  (candidate code: test data, not project code)
import heapq


def top_k(k, nums):
    """The arguments in the other order, named as the reference names them: called by keyword."""
    heap = []
    for x in nums:
        if len(heap) < k:
            heapq.heappush(heap, x)
        elif x > heap[0]:
            heapq.heapreplace(heap, x)
    return heap[0]
