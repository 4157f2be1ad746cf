# task: topk; expect: error
"""sys.exit() while loading: reported as an answer that does not load."""
import sys

sys.exit(0)
