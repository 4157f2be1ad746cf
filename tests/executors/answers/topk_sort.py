def kth_largest(nums, k):
    """Sort and index: O(n log n)."""
    return sorted(nums)[len(nums) - k]
