"""The result tables: schemas enforced, partitions replaced atomically, DuckDB views over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.store import (
    SCHEMAS,
    ItemScoreRow,
    StoreError,
    connect,
    partition_dir,
    query,
    read_table,
    stamped,
    write_partition,
)


def _item(round_id: str, submission: str, question: str, raw: float | None) -> dict:
    return {
        "round_id": round_id,
        "submission_id": submission,
        "question_id": question,
        "kind": "text",
        "max_points": 4.0,
        "raw_points": raw,
        "needs_review": raw is None,
    }


def test_rerunning_a_round_replaces_its_partition_instead_of_adding_rows(tmp_path: Path) -> None:
    write_partition(
        tmp_path, "item_scores", "r1", [_item("r1", "a", "1.1", 2.0), _item("r1", "b", "1.1", 3.0)]
    )
    write_partition(tmp_path, "item_scores", "r1", [_item("r1", "a", "1.1", 4.0)])
    table = read_table(tmp_path, "item_scores")
    assert table.num_rows == 1
    assert table.column("raw_points").to_pylist() == [4.0]


def test_rounds_live_in_their_own_partitions(tmp_path: Path) -> None:
    write_partition(tmp_path, "item_scores", "r1", [_item("r1", "a", "1.1", 2.0)])
    write_partition(tmp_path, "item_scores", "r2", [_item("r2", "a", "1.1", 1.0)])
    assert partition_dir(tmp_path, "item_scores", "r2").name == "round_id=r2"
    columns, rows = query(tmp_path, "select round_id, raw_points from item_scores order by round_id")
    assert columns == ["round_id", "raw_points"]
    assert rows == [("r1", 2.0), ("r2", 1.0)]


def test_no_staging_leftovers_after_a_write(tmp_path: Path) -> None:
    write_partition(tmp_path, "item_scores", "r1", [_item("r1", "a", "1.1", 2.0)])
    write_partition(tmp_path, "item_scores", "r1", [_item("r1", "a", "1.1", 2.0)])
    assert [p.name for p in partition_dir(tmp_path, "item_scores", "r1").iterdir()] == ["part-0.parquet"]


def test_unknown_column_is_an_error_naming_table_and_column(tmp_path: Path) -> None:
    row = _item("r1", "a", "1.1", 2.0) | {"score": 1}
    with pytest.raises(StoreError, match="item_scores.*score"):
        write_partition(tmp_path, "item_scores", "r1", [row])


def test_rows_of_another_round_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="round_id='r1'"):
        write_partition(tmp_path, "item_scores", "r1", [_item("r2", "a", "1.1", 2.0)])


def test_wrong_type_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="item_scores"):
        write_partition(
            tmp_path, "item_scores", "r1", [_item("r1", "a", "1.1", 2.0) | {"raw_points": "lots"}]
        )


def test_null_points_stay_null_not_zero(tmp_path: Path) -> None:
    write_partition(tmp_path, "item_scores", "r1", [_item("r1", "a", "1.1", None)])
    _, rows = query(tmp_path, "select raw_points, needs_review from item_scores")
    assert rows == [(None, True)]


def test_every_table_is_a_view_even_before_it_was_written(tmp_path: Path) -> None:
    con = connect(tmp_path)
    for table, schema in SCHEMAS.items():
        described = [row[0] for row in con.execute(f"describe {table}").fetchall()]
        assert described == schema.names
        assert con.execute(f"select count(*) from {table}").fetchone() == (0,)


def test_comment_only_sql_returns_nothing_instead_of_crashing(tmp_path: Path) -> None:
    assert query(tmp_path, "-- nothing to run") == ([], [])


def test_typed_rows_are_written_and_a_row_without_its_round_is_refused(tmp_path: Path) -> None:
    row = ItemScoreRow(submission_id="s1", question_id="1.1", kind="text", raw_points=2.0, review_kinds=["code"])
    with pytest.raises(StoreError, match="item_scores: row 0 has no round_id"):
        write_partition(tmp_path, "item_scores", "r1", [row])
    write_partition(tmp_path, "item_scores", "r1", [stamped(row, round_id="r1", rubric_sha="sha")])
    [written] = read_table(tmp_path, "item_scores").to_pylist()
    assert (written["round_id"], written["raw_points"], written["review_kinds"], written["confidence"]) == (
        "r1", 2.0, ["code"], None,
    )  # fmt: skip
