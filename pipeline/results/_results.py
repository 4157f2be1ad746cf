"""`open_results(OUT_DIR)`: scored output folders for analysts, in pandas and in DuckDB.

The caller never sees the partition layout: every table is one DataFrame over all its partitions (typed
as `pipeline.results._frames` describes), or a lazy DuckDB relation over the same parquet files for
data too large for memory. OUT_DIR is one `gradeflow score --out` folder, or a folder of them (`out/`,
where `gradeflow score` and `gradeflow serve` put each round in `out/<round_id>`), so rounds over time
need no copying. Every access reads the files again, so a round re-scored meanwhile shows up.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from pipeline.calibrate import HumanGrade, load_human_grades, load_review_grades
from pipeline.results import _analysis
from pipeline.results._analysis import Points
from pipeline.results._frames import natural_sorted, to_frame
from pipeline.store import SCHEMAS, read_table, table_glob
from rubric_schema import Exam, load_exam


class ResultsError(Exception):
    """A folder with no tables, or a round that is not there; the message says what there is."""


def _has_tables(folder: Path) -> bool:
    return any((folder / table).is_dir() for table in SCHEMAS)


def _files(folder: Path, table: str) -> bool:
    return any((folder / table).glob("*=*/part-*.parquet"))


class Results:
    """The tables of one `gradeflow score --out` folder, or of every such folder inside `out_dir`."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        if _has_tables(self.out_dir):
            self.sources = [self.out_dir]
        else:
            children = sorted(p for p in self.out_dir.glob("*") if p.is_dir()) if self.out_dir.is_dir() else []
            self.sources = [p for p in children if _has_tables(p)]
        if not self.sources:
            raise ResultsError(
                f"{self.out_dir}: no result tables here or in its folders (expected "
                f"{self.out_dir}/item_scores/round_id=…); pass the --out folder of `gradeflow score`"
            )

    def __repr__(self) -> str:
        return f"Results({str(self.out_dir)!r}, rounds={self.rounds})"

    def table(self, name: str) -> pd.DataFrame:
        """Every partition of one table as a typed DataFrame (empty, with its columns, if none was written)."""
        if name not in SCHEMAS:
            raise ResultsError(f"no table {name!r}; the tables are {', '.join(SCHEMAS)}")
        return to_frame(pa.concat_tables([read_table(source, name) for source in self.sources]))

    @property
    def submissions(self) -> pd.DataFrame:
        """One row per submission file: totals, status, provenance."""
        return self.table("submissions")

    @property
    def item_scores(self) -> pd.DataFrame:
        """One row per submission and question."""
        return self.table("item_scores")

    @property
    def criterion_scores(self) -> pd.DataFrame:
        """One row per criterion award or rule adjustment, with the judge's evidence."""
        return self.table("criterion_scores")

    @property
    def judge_calls(self) -> pd.DataFrame:
        """One row per model call (or cache hit)."""
        return self.table("judge_calls")

    @property
    def executor_runs(self) -> pd.DataFrame:
        """One row per test of a code answer in the sandbox."""
        return self.table("executor_runs")

    @property
    def human_reviews(self) -> pd.DataFrame:
        """One row per grade a reviewer gave in `gradeflow review` (the final points come from them)."""
        return self.table("human_reviews")

    @property
    def calibration_fits(self) -> pd.DataFrame:
        """One row per calibration and question: method and cross-validated agreement."""
        return self.table("calibration_fits")

    @cached_property
    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB with one view per table over every source folder, as `gradeflow query` has."""
        con = duckdb.connect(database=":memory:")
        for table, schema in SCHEMAS.items():
            globs = [table_glob(s, table).replace("'", "''") for s in self.sources if _files(s, table)]
            if globs:
                files = ", ".join(f"'{glob}'" for glob in globs)
                con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{files}], union_by_name = true)")
            else:
                con.register(table, schema.empty_table())
        return con

    def relation(self, name: str) -> duckdb.DuckDBPyRelation:
        """One table as a lazy DuckDB relation (filter, aggregate, then `.df()`)."""
        if name not in SCHEMAS:
            raise ResultsError(f"no table {name!r}; the tables are {', '.join(SCHEMAS)}")
        return self.duckdb.table(name)

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        """DuckDB SQL over the tables (the views of `gradeflow query`); `.df()` gives pandas."""
        return self.duckdb.sql(query)

    def close(self) -> None:
        """Close the DuckDB connection, if one was opened."""
        if "duckdb" in self.__dict__:
            self.__dict__.pop("duckdb").close()

    def __enter__(self) -> Results:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def rounds(self) -> list[str]:
        """The rounds with rows in `submissions`, in natural order."""
        return natural_sorted(self.submissions["round_id"].dropna().astype(str))

    def _round(self, frame: pd.DataFrame, round_id: str | None) -> pd.DataFrame:
        """The rows of one round (the only one, or `round_id`), without the other rounds' categories."""
        rounds = self.rounds
        if round_id is None:
            if len(rounds) != 1:
                raise ResultsError(
                    f"{self.out_dir}: "
                    + (f"holds rounds {', '.join(rounds)}; pass round_id=" if rounds else "no round has rows")
                )
            round_id = rounds[0]
        elif round_id not in rounds:
            raise ResultsError(f"{self.out_dir}: no round {round_id!r} (have {', '.join(rounds) or 'none'})")
        rows = frame[frame["round_id"] == round_id].copy()
        for column in rows.select_dtypes("category"):
            rows[column] = rows[column].cat.remove_unused_categories()
        return rows

    def score_sheet(self, round_id: str | None = None, *, points: Points = "final") -> pd.DataFrame:
        """A round's score sheet: one row per candidate, one column per question (exam order), the total.

        `points`: "raw" (the judge's), "calibrated", or "final" (human override, else calibrated, else raw).
        """
        return _analysis.score_sheet(
            self._round(self.item_scores, round_id), self._round(self.submissions, round_id), points
        )

    def item_analysis(self, round_id: str | None = None, *, points: Points = "final") -> pd.DataFrame:
        """Per question: difficulty (mean share of the maximum) and discrimination (item–rest correlation)."""
        return _analysis.item_analysis(self._round(self.item_scores, round_id), points)

    def agreement(
        self,
        grades: str | Path | list[HumanGrade] | None = None,
        *,
        rubric: str | Path | Exam | None = None,
        round_id: str | None = None,
        points: Points = "raw",
    ) -> pd.DataFrame:
        """Judge against human grades, per question: a grade sheet (CSV as `gradeflow calibrate --grades`
        takes) or a list of grades; none: the round's own reviews (`human_reviews`, current and not stale).

        Pass the `rubric` when graders marked criteria of questions with choice groups or caps (their
        points do not simply add up), as for `gradeflow calibrate`; reviews are item points already.
        """
        if grades is None:
            sheet = load_review_grades(self.out_dir, round_id=round_id)
        else:
            sheet = grades if isinstance(grades, list) else load_human_grades(grades)
        exam = load_exam(rubric) if isinstance(rubric, str | Path) else rubric
        return _analysis.agreement_by_question(self._round(self.item_scores, round_id), sheet, exam, points)

    def rounds_over_time(self, *, points: Points = "final") -> pd.DataFrame:
        """One row per round, oldest first: candidates, score level and spread, review load, judge, rubric."""
        return _analysis.rounds_over_time(self.submissions, self.item_scores, self.judge_calls, points)


def open_results(out_dir: str | Path) -> Results:
    """Open the output folder of `gradeflow score` (`--out`), e.g. `open_results("out/demo")`."""
    return Results(out_dir)
