"""Calibration against human grades: fitting, cross-validated agreement metrics, review routing.

Beside the judge's score, a calibration can use two answer features: the similarity to the reference and
the graded-answer neighbour share (how humans graded the most similar answers to the same question).

The plots and HTML page live in `pipeline.calibrate.report`, apart, so applying a calibration does not
import matplotlib.
"""

from pipeline.calibrate._calibration import (
    FORMAT,
    Calibration,
    CalibrationFileError,
    calibrate,
    load_calibration,
    save_calibration,
)
from pipeline.calibrate._data import (
    CalibrationData,
    CalibrationDataError,
    GradedAnswers,
    HumanGrade,
    JoinSummary,
    graded_shares,
    item_grades,
    join_scores,
    load_answers,
    load_human_grades,
    load_similarities,
    read_item_scores,
)
from pipeline.calibrate._evaluate import CrossValidated, Evaluation, cross_validate, evaluate, routing_curve
from pipeline.calibrate._fit import (
    CalibrationConfig,
    CalibrationModel,
    QuestionFit,
    Stack,
    fit_mapping,
    fit_model,
    shrinkage_weights,
)
from pipeline.calibrate._metrics import (
    METRIC_NAMES,
    Estimate,
    Scale,
    agreement,
    bootstrap_agreement,
    infer_scale,
)
from pipeline.calibrate._neighbours import NeighbourPool, neighbour_shares
from pipeline.calibrate._prior import PRIOR_FILE, PRIOR_NAME, calibration_for, default_prior, fit_prior
from pipeline.calibrate._propose import Candidate, Proposal, candidates, propose
from pipeline.calibrate._reviews import load_review_grades
from pipeline.embed import MODEL_ID as EMBEDDING_MODEL
from pipeline.embed import CachedEmbedder, Embedder, EmbedderError, default_embedder, embed_answers

__all__ = [
    "EMBEDDING_MODEL",
    "FORMAT",
    "METRIC_NAMES",
    "CachedEmbedder",
    "Calibration",
    "CalibrationConfig",
    "CalibrationData",
    "CalibrationDataError",
    "CalibrationFileError",
    "CalibrationModel",
    "Candidate",
    "CrossValidated",
    "Embedder",
    "EmbedderError",
    "Estimate",
    "GradedAnswers",
    "Evaluation",
    "HumanGrade",
    "JoinSummary",
    "NeighbourPool",
    "PRIOR_FILE",
    "Proposal",
    "QuestionFit",
    "Scale",
    "Stack",
    "agreement",
    "bootstrap_agreement",
    "calibrate",
    "candidates",
    "cross_validate",
    "default_embedder",
    "PRIOR_NAME",
    "calibration_for",
    "default_prior",
    "embed_answers",
    "evaluate",
    "fit_mapping",
    "fit_prior",
    "fit_model",
    "graded_shares",
    "infer_scale",
    "item_grades",
    "join_scores",
    "load_answers",
    "load_calibration",
    "load_human_grades",
    "load_review_grades",
    "load_similarities",
    "neighbour_shares",
    "propose",
    "read_item_scores",
    "routing_curve",
    "save_calibration",
    "shrinkage_weights",
]
