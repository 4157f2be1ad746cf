"""The partition swap: one file renamed over the partition's file, its staging files hidden from readers
and, when a killed writer leaves one behind, removed by a later write once it is surely dead.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pipeline.store import STALE_STAGING_S, query, read_partition, read_table, write_partition


def _rows(generation: int, n: int = 3) -> list[dict]:
    return [{"round_id": "r", "submission_id": f"s{i}", "question_id": "1.1", "prompt_sha": f"gen-{generation}"}
            for i in range(n)]


def test_a_killed_writers_staging_file_is_invisible_then_collected_once_stale(tmp_path: Path) -> None:
    folder = write_partition(tmp_path, "item_scores", "r", _rows(1))
    fresh, stale = folder / ".part-0.parquet.fresh.tmp", folder / ".part-0.parquet.stale.tmp"
    for leftover in (fresh, stale):  # half-written files of writers killed before their rename
        leftover.write_bytes(b"PAR1 half a file")
    old = time.time() - STALE_STAGING_S - 60
    os.utime(stale, (old, old))
    assert read_table(tmp_path, "item_scores").num_rows == 3
    assert query(tmp_path, "select count(*) from item_scores")[1] == [(3,)]
    write_partition(tmp_path, "item_scores", "r", _rows(2, n=2))
    assert sorted(p.name for p in folder.iterdir()) == [fresh.name, "part-0.parquet"]  # a live writer's is kept
    assert read_partition(tmp_path, "item_scores", "r").column("prompt_sha").to_pylist() == ["gen-2", "gen-2"]


def test_a_partition_never_written_reads_empty_with_its_columns(tmp_path: Path) -> None:
    table = read_partition(tmp_path, "submissions", "nowhere")
    assert table.num_rows == 0 and "final_total" in table.column_names
