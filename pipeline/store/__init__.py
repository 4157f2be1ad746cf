"""Result tables: parquet partitions per round with explicit schemas, and DuckDB views over them."""

from pipeline.store._query import connect, query
from pipeline.store._tables import (
    PARTITION_KEYS,
    SCHEMAS,
    StoreError,
    partition_dir,
    read_table,
    table_glob,
    to_arrow,
    write_partition,
)

__all__ = [
    "PARTITION_KEYS",
    "SCHEMAS",
    "StoreError",
    "connect",
    "partition_dir",
    "query",
    "read_table",
    "table_glob",
    "to_arrow",
    "write_partition",
]
