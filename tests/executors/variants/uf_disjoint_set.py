# task: union_find; callable: DisjointSet; as: uf_rank_compression
# ruff: noqa  (candidate code: test data, not project code)
class DisjointSet:
    """Another class name and other method names: find_root() and unite()."""

    def __init__(self, size):
        self.parent = list(range(size))
        self.rank = [0] * size

    def find_root(self, x):
        if self.parent[x] != x:
            self.parent[x] = self.find_root(self.parent[x])
        return self.parent[x]

    def unite(self, a, b):
        ra, rb = self.find_root(a), self.find_root(b)
        if ra == rb:
            return
        if self.rank[ra] < self.rank[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.rank[ra] += self.rank[ra] == self.rank[rb]
