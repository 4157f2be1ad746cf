# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Return an object equal to everything: only plain data crosses to the checker."""


class Anything(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


class Sneaky:
    def __eq__(self, other):
        return True


def kth_largest(nums, k):
    return Sneaky()
