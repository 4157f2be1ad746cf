"""The report's plots as base64 PNG strings, drawn with matplotlib's Agg canvas (no display, no pyplot state).

Plots carry only ids and numbers (never candidate text), so a CJK font is a nicety for question ids in
other scripts, not a need: it is used when installed, and silently skipped otherwise.
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import matplotlib as mpl
from matplotlib import font_manager, ticker
from matplotlib.figure import Figure

from pipeline.report._data import CodeTaskStat, QuestionStat

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
)
"""Preferred fonts with Chinese glyphs, best first."""

RAW_COLOUR = "#1f77b4"
CALIBRATED_COLOUR = "#ff7f0e"


def pick_font(installed: Iterable[str], preferred: Iterable[str] = CJK_FONTS) -> str | None:
    """Return the first preferred font that is installed, or None."""
    names = set(installed)
    return next((name for name in preferred if name in names), None)


@contextmanager
def _style() -> Iterator[None]:
    font = pick_font(f.name for f in font_manager.fontManager.ttflist)
    families = ([font] if font else []) + ["DejaVu Sans"]
    with mpl.rc_context({"font.family": "sans-serif", "font.sans-serif": families, "font.size": 9}):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Glyph .* missing from")
            yield


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def totals_histogram(raw: list[float], calibrated: list[float], max_total: float | None) -> str | None:
    """Distribution of submission totals (raw, and calibrated when present); None without totals."""
    if not raw and not calibrated:
        return None
    with _style():
        figure = Figure(figsize=(10, 3))
        axes = figure.add_subplot()
        top = max_total or max(raw + calibrated) or 1.0
        bins = [top * i / 20 for i in range(21)]
        series = [(raw, RAW_COLOUR, "raw"), (calibrated, CALIBRATED_COLOUR, "calibrated")]
        shown = [(values, colour, f"{name} (n={len(values)})") for values, colour, name in series if values]
        values, colours, labels = zip(*shown, strict=True)
        axes.hist(list(values), bins=bins, color=list(colours), label=list(labels))
        axes.set_xlim(0, top)
        axes.set_xlabel(f"total points (max {top:g})")
        axes.set_ylabel("submissions")
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False)
        return _png(figure)


def _clipped_sd(stats: list[tuple[float | None, float | None]]) -> list[list[float]]:
    """Error bars of ± sd cut at 0 and 1: a fraction of the max cannot leave that range."""
    means = [m or 0.0 for m, _ in stats]
    sds = [s or 0.0 for _, s in stats]
    return [[min(s, m) for m, s in zip(means, sds, strict=True)],
            [min(s, 1.0 - m) for m, s in zip(means, sds, strict=True)]]


def question_means(questions: list[QuestionStat]) -> str | None:
    """Mean ± sd of points over max per question, raw beside calibrated; None without scored items."""
    shown = [q for q in questions if q.raw_mean is not None]
    if not shown:
        return None
    calibrated = any(q.calibrated_mean is not None for q in shown)
    with _style():
        figure = Figure(figsize=(10, 0.3 * len(shown) + 1.0))
        axes = figure.add_subplot()
        height = 0.4 if calibrated else 0.7
        positions = list(range(len(shown)))
        axes.barh(
            [p - (height / 2 if calibrated else 0) for p in positions],
            [q.raw_mean or 0.0 for q in shown],
            xerr=_clipped_sd([(q.raw_mean, q.raw_sd) for q in shown]),
            height=height, color=RAW_COLOUR, ecolor="#444444", capsize=2, label="raw",
        )
        if calibrated:
            axes.barh(
                [p + height / 2 for p in positions],
                [q.calibrated_mean or 0.0 for q in shown],
                xerr=_clipped_sd([(q.calibrated_mean, q.calibrated_sd) for q in shown]),
                height=height, color=CALIBRATED_COLOUR, ecolor="#444444", capsize=2, label="calibrated",
            )
            axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False)
        axes.set_yticks(positions, [q.question_id for q in shown])
        axes.invert_yaxis()
        axes.set_xlim(0, 1.05)
        axes.set_xlabel("points / max (mean ± sd)")
        return _png(figure)


def speed_ratios(tasks: list[CodeTaskStat]) -> str | None:
    """Every timed test's candidate/reference time per task on a log axis; None without timings."""
    timed = [t for t in tasks if t.speed_ratios]
    if not timed:
        return None
    with _style():
        figure = Figure(figsize=(10, 0.45 * len(timed) + 1.0))
        axes = figure.add_subplot()
        for row, task in enumerate(timed):
            ratios = [max(r, 1e-3) for r in task.speed_ratios]
            jitter = [row + 0.25 * ((i % 7) - 3) / 3 for i in range(len(ratios))]
            axes.scatter(ratios, jitter, s=14, color=RAW_COLOUR, alpha=0.7)
            if task.median_speed_ratio is not None:
                median = [task.median_speed_ratio] * 2
                axes.plot(median, [row - 0.35, row + 0.35], color="#d62728", linewidth=2)
        axes.axvline(1.0, color="#888888", linestyle="--", linewidth=1)
        axes.set_xscale("log")
        axes.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axes.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axes.xaxis.set_minor_formatter(ticker.NullFormatter())
        axes.set_yticks(range(len(timed)), [t.task_id for t in timed])
        axes.set_ylim(len(timed) - 0.5, -0.5)
        axes.set_xlabel("candidate time / reference time (log; red: median; dashed: same as reference)")
        return _png(figure)
