# ruff: noqa  (candidate code: test data, not project code)
class UnionFind:
    """Wrong: links x's parent, not x's root."""

    def __init__(self, n):
        self.parent = list(range(n))

    def find(self, x):
        while self.parent[x] != x:
            x = self.parent[x]
        return x

    def union(self, x, y):
        self.parent[x] = self.find(y)
