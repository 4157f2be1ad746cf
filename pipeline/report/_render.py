"""One self-contained HTML file per round: the template in `templates/`, plots inline as base64 PNG.

Jinja's autoescaping is on for every value, so candidate text (evidence quotes, reasons, file names) can
never become markup; the page's Content-Security-Policy forbids scripts and any fetch besides data: images.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from pipeline.files import write_atomic
from pipeline.report import _plots
from pipeline.report._data import ReportData, load_report_data, pick_round, review_counts

_TEMPLATES = Path(__file__).parent / "templates"


def _num(value: float | int | None) -> str:
    """Format a figure for a table cell: no trailing zeros, a dash for missing."""
    if value is None:
        return "—"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}".rstrip("0").rstrip(".")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters |= {"num": _num, "pct": _pct, "review_counts": lambda queue: review_counts(queue).items()}


def render_html(data: ReportData) -> str:
    """Render the report page of one round's data."""
    plots = {
        "totals": _plots.totals_histogram(
            data.summary.raw_totals, data.summary.calibrated_totals, data.summary.max_total
        ),
        "questions": _plots.question_means(data.questions),
        "speed": _plots.speed_ratios(data.code),
    }
    return _ENV.get_template("report.html").render(data=data, plots=plots)


def write_report(
    out_dir: str | Path, *, round_id: str | None = None, out_file: str | Path | None = None
) -> Path:
    """Render a round's report and write it atomically; returns the file written."""
    round_id = pick_round(out_dir, round_id)
    html = render_html(load_report_data(out_dir, round_id))
    target = Path(out_file) if out_file is not None else Path(out_dir) / f"report-{round_id}.html"
    return write_atomic(target, html)
