"""Calibration against human grades: fitting, cross-validated agreement metrics, review routing.

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
    HumanGrade,
    JoinSummary,
    item_grades,
    join_scores,
    load_human_grades,
    load_similarities,
    read_item_scores,
)
from pipeline.calibrate._evaluate import CrossValidated, Evaluation, cross_validate, evaluate, routing_curve
from pipeline.calibrate._fit import CalibrationConfig, CalibrationModel, fit_mapping, fit_model
from pipeline.calibrate._metrics import (
    METRIC_NAMES,
    Estimate,
    Scale,
    agreement,
    bootstrap_agreement,
    infer_scale,
)

__all__ = [
    "FORMAT",
    "METRIC_NAMES",
    "Calibration",
    "CalibrationConfig",
    "CalibrationData",
    "CalibrationDataError",
    "CalibrationFileError",
    "CalibrationModel",
    "CrossValidated",
    "Estimate",
    "Evaluation",
    "HumanGrade",
    "JoinSummary",
    "Scale",
    "agreement",
    "bootstrap_agreement",
    "calibrate",
    "cross_validate",
    "evaluate",
    "fit_mapping",
    "fit_model",
    "infer_scale",
    "item_grades",
    "join_scores",
    "load_calibration",
    "load_human_grades",
    "load_similarities",
    "read_item_scores",
    "routing_curve",
    "save_calibration",
]
