"""Result tables as typed pandas DataFrames: what the parquet schema says, in pandas' own dtypes.

Ids and short labels become categoricals whose categories sort as people read them (question 2.1
before 10.1, s2 before s10), so `sort_values` and `groupby` give the exam's order. Nullable integers and
booleans keep their nulls (`Int32`, `boolean`) instead of turning into floats and objects; floats stay
numpy float64 with NaN for NULL (unscored is NaN, never 0), so numpy and scipy take them as they are.
Timestamps are UTC-aware.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import pyarrow as pa

from rubric_schema import natural_key

LABELS = frozenset(
    {
        "kind",
        "status",
        "source",
        "model",
        "prompt_sha",
        "rubric_sha",
        "gradeflow_version",
        "device",
        "method",
        "review_kind",
        "decided_by",
        "reviewer",
        "mode",
    }
)
"""String columns with few distinct values, kept as categoricals beside every `*_id` column."""

_DTYPES: dict[pa.DataType, pd.api.extensions.ExtensionDtype] = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
    pa.string(): pd.StringDtype(),
    pa.large_string(): pd.StringDtype(),
}


def natural_sorted(values: Iterable[str]) -> list[str]:
    """Distinct values in natural order."""
    return sorted(set(values), key=natural_key)


def is_categorical(name: str) -> bool:
    """Whether a column is an id or a label: categorical in every frame."""
    return name.endswith("_id") or name in LABELS


def to_frame(table: pa.Table) -> pd.DataFrame:
    """An arrow table as a DataFrame with the dtypes described in this module's docstring."""
    frame = table.to_pandas(types_mapper=_DTYPES.get)
    for field in table.schema:
        if is_categorical(field.name) and (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            column = frame[field.name]
            categories = natural_sorted(column.dropna().astype(str))
            frame[field.name] = column.astype(pd.CategoricalDtype(categories))
        elif pa.types.is_timestamp(field.type) and field.type.tz is None:
            frame[field.name] = frame[field.name].dt.tz_localize("UTC")
    return frame
