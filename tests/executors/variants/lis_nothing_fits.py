# task: lis; callable: ; as: needs_review
# ruff: noqa  (candidate code: test data, not project code)
def longest_run(nums, start, stop):
    """Needs two arguments the task does not pass: nothing here fits, so a person looks."""
    return stop - start, nums[start:stop]
