"""Results for analysts: `open_results(OUT_DIR)` gives every table as a typed pandas DataFrame and as a
DuckDB relation, and the first questions asked of a round as one call each.

    from pipeline.results import open_results
    open_results("out/demo").score_sheet()
"""

from pipeline.results._analysis import AGREEMENT_METRICS, Points, item_points
from pipeline.results._frames import natural_key, to_frame
from pipeline.results._results import Results, ResultsError, open_results

__all__ = [
    "AGREEMENT_METRICS",
    "Points",
    "Results",
    "ResultsError",
    "item_points",
    "natural_key",
    "open_results",
    "to_frame",
]
