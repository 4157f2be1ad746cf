# ruff: noqa  (candidate code: test data, not project code)
class UnionFind:
    """Quick-find: find is O(1) but every union relabels all n nodes, so m operations are O(n^2)."""

    def __init__(self, n):
        self.label = list(range(n))

    def find(self, x):
        return self.label[x]

    def union(self, x, y):
        old, new = self.label[x], self.label[y]
        if old != new:
            self.label = [new if v == old else v for v in self.label]
