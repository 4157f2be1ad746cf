"""The round report: section data read from the result tables, plots, one self-contained HTML file."""

from pipeline.report._data import (
    CodeTaskStat,
    CriterionStat,
    Provenance,
    QuestionStat,
    ReportData,
    ReportError,
    ReviewItem,
    RoundTotals,
    load_report_data,
    natural_key,
    pick_round,
    rounds_in,
)
from pipeline.report._render import render_html, write_report

__all__ = [
    "CodeTaskStat",
    "CriterionStat",
    "Provenance",
    "QuestionStat",
    "ReportData",
    "ReportError",
    "ReviewItem",
    "RoundTotals",
    "load_report_data",
    "natural_key",
    "pick_round",
    "render_html",
    "rounds_in",
    "write_report",
]
