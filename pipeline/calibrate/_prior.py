"""The prior for an exam with no grades (K = 0): a calibration fitted on public graded sets, shipped as data.

Fitted on the dev answers of Mohler (English, CS) and ADS (Chinese, data science) with the judge's
distribution share and the answer–reference similarity as features: one global map and one stack, no
per-question map (a new exam's questions are not these). `benchmarks/bench_learning_curve.py --write-prior`
rebuilds the file and measures it leave-dataset-out.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

from pipeline.calibrate._calibration import Calibration, calibrate, load_calibration
from pipeline.calibrate._data import CalibrationData
from pipeline.calibrate._fit import CalibrationConfig
from pipeline.embed import Embedder
from rubric_schema import Exam

PRIOR_FILE = "prior.json"
"""The shipped prior, beside this module (package data)."""
PRIOR_NAME = "prior"
"""What `gradeflow score --calibration` takes for the shipped prior instead of a file."""
PRIOR_CONFIG = CalibrationConfig(mapping="linear", per_question=False)
"""A line, not isotonic steps: the prior must carry over to other exams, not trace these sets' quirks."""


def fit_prior(data: CalibrationData, *, n_bootstrap: int = 1000, sources: dict[str, str] | None = None) -> Calibration:
    """Fit a prior on graded public answers (with similarity); its id says "prior" wherever it is recorded."""
    calibration, _ = calibrate(data, PRIOR_CONFIG, n_bootstrap=n_bootstrap, sources=sources)
    return calibration.model_copy(update={"calibration_id": calibration.calibration_id.replace("cal-", "prior-", 1)})


def default_prior(exam: Exam | None = None, embedder: Embedder | None = None) -> Calibration:
    """The shipped prior, for scoring a round that has no calibration of its own.

    With the round's `exam`, its reference answers are embedded (by `embedder`, which it then needs) so the similarity
    stage applies from the answer text; without it only the judge's global map applies.
    """
    with as_file(files("pipeline.calibrate") / PRIOR_FILE) as path:
        prior = load_calibration(path)
    return prior if exam is None else prior.with_references(exam, embedder)


def calibration_for(name_or_path: str | Path, exam: Exam, embedder: Embedder) -> Calibration:
    """The calibration a round is scored with: the shipped prior (`PRIOR_NAME`, bound to the exam's
    references; its id starts "prior-" in every table), else the artifact at the path; answers and
    references are embedded by `embedder` (the flow's, on the cache root of its settings).
    """
    if str(name_or_path) == PRIOR_NAME:
        return default_prior(exam, embedder).embedding_with(embedder)
    return load_calibration(name_or_path).embedding_with(embedder)
