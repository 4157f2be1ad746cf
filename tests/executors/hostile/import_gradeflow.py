# task: topk; expect: failed
# ruff: noqa  (candidate code: test data, not project code)
"""Import gradeflow's own packages to read the rubric or the scoring rules."""


def kth_largest(nums, k):
    import pipeline.scoring  # noqa: F401
    import rubric_schema  # noqa: F401

    return sorted(nums)[-k]
