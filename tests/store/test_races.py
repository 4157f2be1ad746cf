"""Issue 21: readers never see a half-replaced partition, and exports never revert a re-score or lose a grade.

Smaller runs of benchmarks/bench_store_races.py (the targets: 0 of 10,000 reads, 0 of 1,000 races).
"""

from __future__ import annotations

from pathlib import Path

from races import concurrent_reads, rescore_export_races


def test_no_read_sees_a_partial_partition_while_a_writer_replaces_it(tmp_path: Path) -> None:
    race = concurrent_reads(tmp_path, reads=600)
    assert race.generations > 20, race  # the partition really was replaced under the readers
    assert race.partial == 0, race


def test_exports_racing_re_scores_neither_revert_a_re_score_nor_lose_a_grade(tmp_path: Path) -> None:
    race = rescore_export_races(tmp_path, rescores=25)
    assert race.exports >= 10, race  # the two really raced
    assert race.reverted == [], race
    assert race.lost == [], race
