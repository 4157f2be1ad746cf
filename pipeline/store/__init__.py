"""Result tables: parquet partitions per round with explicit schemas, and DuckDB views over them."""

from pipeline.store._query import connect, query
from pipeline.store._rows import (
    ROW_TYPES,
    CriterionScoreRow,
    ExecutorRunRow,
    ItemScoreRow,
    JudgeCallRow,
    RoundRows,
    Row,
    SubmissionRow,
    check_rows,
    stamped,
)
from pipeline.store._tables import (
    PARTITION_KEYS,
    SCHEMAS,
    STALE_STAGING_S,
    StoreError,
    partition_dir,
    read_partition,
    read_table,
    table_glob,
    to_arrow,
    write_partition,
)

__all__ = [
    "PARTITION_KEYS",
    "ROW_TYPES",
    "SCHEMAS",
    "STALE_STAGING_S",
    "CriterionScoreRow",
    "ExecutorRunRow",
    "ItemScoreRow",
    "JudgeCallRow",
    "RoundRows",
    "Row",
    "StoreError",
    "SubmissionRow",
    "check_rows",
    "connect",
    "partition_dir",
    "query",
    "read_partition",
    "read_table",
    "stamped",
    "table_glob",
    "to_arrow",
    "write_partition",
]
