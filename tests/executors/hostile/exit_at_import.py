# task: topk; expect: error
# ruff: noqa  (candidate code: test data, not project code)
"""sys.exit() while loading: reported as an answer that does not load."""

import sys

sys.exit(0)
