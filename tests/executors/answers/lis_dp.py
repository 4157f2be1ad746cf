# ruff: noqa  (candidate code: test data, not project code)
def longest_increasing_subsequence(nums):
    """Classic DP: O(n^2)."""
    n = len(nums)
    if n == 0:
        return 0, []
    dp, prev = [1] * n, [-1] * n
    for i in range(n):
        for j in range(i):
            if nums[j] < nums[i] and dp[j] + 1 > dp[i]:
                dp[i], prev[i] = dp[j] + 1, j
    best = max(range(n), key=dp.__getitem__)
    out = []
    while best >= 0:
        out.append(nums[best])
        best = prev[best]
    return len(out), out[::-1]
