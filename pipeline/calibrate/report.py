"""The calibration report: plots a psychometrician reads to see where the judge is biased, and an HTML page.

Plots: judge vs human per question, pooled scatter raw and calibrated, a reliability curve, residuals by
score band, and coverage against agreement for review routing. All from out-of-fold predictions.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from pipeline.calibrate._calibration import Calibration  # noqa: E402
from pipeline.calibrate._data import CalibrationData  # noqa: E402
from pipeline.calibrate._evaluate import CrossValidated  # noqa: E402
from pipeline.calibrate._metrics import METRIC_NAMES, Scale  # noqa: E402
from rubric_schema import natural_key  # noqa: E402

MAX_QUESTION_PANELS = 24
"""Per-question scatter shows the questions with the most graded items, up to this many."""


def _jitter(values: np.ndarray, scale: Scale, rng: np.random.Generator) -> np.ndarray:
    return values + rng.uniform(-0.15, 0.15, size=len(values)) * scale.step


def _per_question(
    data: CalibrationData,
    raw: np.ndarray,
    calibrated: np.ndarray,
    human: np.ndarray,
    scale: Scale,
    path: Path,
) -> None:
    counts = {q: int((data.question_id == q).sum()) for q in set(data.question_id.tolist())}
    shown = sorted(sorted(counts, key=lambda q: -counts[q])[:MAX_QUESTION_PANELS], key=natural_key)
    columns = min(6, len(shown))
    rows = math.ceil(len(shown) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(2.4 * columns, 2.4 * rows), squeeze=False, sharex=True, sharey=True
    )
    rng = np.random.default_rng(0)
    for axis, question_id in zip(axes.flat, shown, strict=False):
        mask = data.question_id == question_id
        axis.scatter(
            _jitter(raw[mask], scale, rng), _jitter(human[mask], scale, rng), s=8, alpha=0.6, label="raw"
        )
        axis.scatter(
            calibrated[mask], _jitter(human[mask], scale, rng), s=8, alpha=0.6, marker="x", label="calibrated"
        )
        axis.plot([0, scale.max_points], [0, scale.max_points], color="grey", lw=0.8)
        axis.set_title(f"{question_id} (n={counts[question_id]})", fontsize=8)
    for axis in list(axes.flat)[len(shown) :]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize=6)
    figure.supxlabel("judge score")
    figure.supylabel("human score")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _pooled(raw: np.ndarray, calibrated: np.ndarray, human: np.ndarray, scale: Scale, path: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharey=True)
    rng = np.random.default_rng(0)
    for axis, values, title in ((axes[0], raw, "raw"), (axes[1], calibrated, "calibrated (out of fold)")):
        axis.scatter(_jitter(values, scale, rng), _jitter(human, scale, rng), s=6, alpha=0.35)
        axis.plot([0, scale.max_points], [0, scale.max_points], color="grey", lw=0.8)
        axis.set_title(f"judge {title} vs human")
        axis.set_xlabel(f"judge (0–{scale.max_points:g})")
    axes[0].set_ylabel(f"human (0–{scale.max_points:g})")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _reliability(
    raw: np.ndarray, calibrated: np.ndarray, human: np.ndarray, scale: Scale, path: Path
) -> None:
    figure, axis = plt.subplots(figsize=(5, 4.5))
    edges = np.linspace(0, scale.max_points, 11)
    for values, label in ((raw, "raw"), (calibrated, "calibrated")):
        bins = np.clip(np.digitize(values, edges[1:-1]), 0, len(edges) - 2)
        xs, ys, ns = [], [], []
        for b in range(len(edges) - 1):
            if (bins == b).sum():
                xs.append(values[bins == b].mean())
                ys.append(human[bins == b].mean())
                ns.append(int((bins == b).sum()))
        axis.plot(xs, ys, marker="o", label=label)
        for x, y, n in zip(xs, ys, ns, strict=True):
            axis.annotate(str(n), (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
    axis.plot([0, scale.max_points], [0, scale.max_points], color="grey", lw=0.8, ls="--", label="ideal")
    axis.set_xlabel("mean judge score in bin")
    axis.set_ylabel("mean human score")
    axis.set_title("reliability (numbers: items per bin)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _residuals(raw: np.ndarray, calibrated: np.ndarray, human: np.ndarray, scale: Scale, path: Path) -> None:
    figure, axis = plt.subplots(figsize=(7, 4))
    edges = np.linspace(0, scale.max_points, 6)
    bands = np.clip(np.digitize(human, edges[1:-1]), 0, 4)
    labels = [f"{edges[b]:g}–{edges[b + 1]:g}" for b in range(5)]
    positions = np.arange(5)
    for offset, values, label, colour in (
        (-0.18, raw, "raw", "tab:blue"),
        (0.18, calibrated, "calibrated", "tab:orange"),
    ):
        groups = [values[bands == b] - human[bands == b] for b in range(5)]
        kept = [(p, g) for p, g in zip(positions, groups, strict=True) if len(g)]
        if not kept:
            continue
        box = axis.boxplot(
            [g for _, g in kept],
            positions=[p + offset for p, _ in kept],
            widths=0.3,
            patch_artist=True,
            showfliers=False,
        )
        for patch in box["boxes"]:
            patch.set_facecolor(colour)
            patch.set_alpha(0.5)
        box["boxes"][0].set_label(label)
    axis.axhline(0, color="grey", lw=0.8)
    axis.set_xticks(positions, labels)
    axis.set_xlabel("human score band")
    axis.set_ylabel("judge − human")
    axis.set_title("residuals by score band (above 0: judge too generous)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _routing(calibration: Calibration, path: Path) -> None:
    assert calibration.evaluation is not None
    points = calibration.evaluation.routing
    shares = [100 * p.share for p in points]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.plot(shares, [p.qwk for p in points], marker="o", label="QWK, highest expected error first")
    axis.plot(shares, [p.random_qwk for p in points], ls="--", label="QWK, random items")
    axis.set_xlabel("% of items reviewed by a human")
    axis.set_ylabel("QWK after review")
    other = axis.twinx()
    other.plot(shares, [p.mae for p in points], color="tab:red", alpha=0.6, label="MAE, routed")
    other.set_ylabel("MAE after review", color="tab:red")
    axis.set_title("coverage against agreement")
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _cell(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_calibration_report(
    calibration: Calibration, data: CalibrationData, cv: CrossValidated, folder: str | Path
) -> Path:
    """Write the PNG plots and `report.html` into `folder`; returns the HTML path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    evaluation = calibration.evaluation
    if evaluation is None:
        raise ValueError("the calibration has no evaluation to report")
    scale = calibration.scale
    human = scale.rescale(data.human, data.max_points)
    raw = scale.rescale(data.raw_points, data.max_points)
    calibrated = cv.kfold * scale.max_points
    plots = {
        "per_question.png": "Judge vs human per question (× calibrated, out of fold)",
        "scatter.png": "Judge vs human, all items",
        "reliability.png": "Reliability curve",
        "residuals.png": "Residuals by score band",
        "routing.png": "Review routing: coverage against agreement",
    }
    _per_question(data, raw, calibrated, human, scale, folder / "per_question.png")
    _pooled(raw, calibrated, human, scale, folder / "scatter.png")
    _reliability(raw, calibrated, human, scale, folder / "reliability.png")
    _residuals(raw, calibrated, human, scale, folder / "residuals.png")
    _routing(calibration, folder / "routing.png")
    pooled = _table(
        ["compared", "n", *METRIC_NAMES],
        [
            [
                row.label,
                str(row.n),
                *(
                    f"{_cell(row.metrics[m].value)} [{_cell(row.metrics[m].ci_low)}, "
                    f"{_cell(row.metrics[m].ci_high)}]"
                    for m in METRIC_NAMES
                ),
            ]
            for row in evaluation.pooled
        ],
    )
    questions = _table(
        [
            "question",
            "method",
            "n",
            "pearson raw",
            "pearson cal.",
            "qwk raw",
            "qwk cal.",
            "qwk cal. 95 % CI",
            "mae raw",
            "mae cal.",
        ],
        [
            [
                q.question_id,
                q.method,
                str(q.n),
                _cell(q.raw["pearson"]),
                _cell(q.calibrated["pearson"]),
                _cell(q.raw["qwk"]),
                _cell(q.calibrated["qwk"]),
                f"[{_cell(q.qwk_ci_low)}, {_cell(q.qwk_ci_high)}]",
                _cell(q.raw["mae"]),
                _cell(q.calibrated["mae"]),
            ]
            for q in evaluation.per_question
        ],
    )
    routing = _table(
        ["reviewed", "qwk", "pearson", "mae", "qwk (random)", "mae (random)"],
        [
            [
                f"{100 * p.share:.0f} %",
                _cell(p.qwk),
                _cell(p.pearson),
                _cell(p.mae),
                _cell(p.random_qwk),
                _cell(p.random_mae),
            ]
            for p in evaluation.routing
        ],
    )
    join = calibration.join.model_dump() if calibration.join else {}
    facts = _table(
        ["", ""],
        [
            ["calibration", calibration.calibration_id],
            ["fitted on", f"{evaluation.n} items; data sha256 {calibration.data_sha256[:16]}…"],
            ["join", ", ".join(f"{k} {v}" for k, v in join.items()) or "—"],
            ["scale", f"0–{scale.max_points:g} in steps of {scale.step:g} (scores of other maxima rescaled)"],
            ["global map", calibration.model.global_mapping.method],
            ["per-question maps", f"{len(calibration.model.questions)} questions"],
            ["review threshold", f"expected error > {calibration.review_threshold:.3f} × item maximum"],
            [
                "cross-validation",
                f"{evaluation.folds}-fold over submissions; leave-question-out with the global map",
            ],
            ["gradeflow", calibration.gradeflow_version],
            *([[k, v] for k, v in calibration.sources.items()]),
        ],
    )
    images = "".join(
        f"<h2>{html.escape(title)}</h2><img src='{name}' alt='{html.escape(title)}'>"
        for name, title in plots.items()
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Calibration {html.escape(calibration.calibration_id)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}img{max-width:100%}</style>"
        "</head><body>"
        f"<h1>Calibration {html.escape(calibration.calibration_id)}</h1>{facts}"
        "<h2>Agreement with human grades (95 % bootstrap intervals)</h2>"
        "<p>Calibrated figures are out of fold: the map never saw the items it is scored on.</p>"
        f"{pooled}{images}<h2>Review routing</h2>{routing}<h2>Per question</h2>{questions}</body></html>"
    )
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
