# ruff: noqa  (candidate code: test data, not project code)
class UnionFind:
    """No path compression, no rank: chains make find O(n), so m operations are O(n^2)."""

    def __init__(self, n):
        self.parent = list(range(n))

    def find(self, x):
        while self.parent[x] != x:
            x = self.parent[x]
        return x

    def union(self, x, y):
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            self.parent[rx] = ry
