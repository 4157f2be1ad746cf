# task: topk; callable: ; as: needs_review
# ruff: noqa  (candidate code: test data, not project code)
def kth_by_sort(nums, k):
    return sorted(nums)[-k]


def kth_by_scan(nums, k):
    return sorted(set(nums))[-k]
