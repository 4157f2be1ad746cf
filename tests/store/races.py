"""Races on a round's tables in real processes: readers against a writer, re-scores against exports.

Shared by tests/store/test_races.py (a few seconds) and benchmarks/bench_store_races.py (the issue-21
targets: 10,000 concurrent reads, 1,000 re-score × export races).

- `concurrent_reads`: a writer process replaces the item_scores partition over and over, each generation
  with the same number of rows tagged with its number; the calling process reads it in a loop through
  pyarrow (`read_table`), DuckDB (`query`) and `open_results`. A read is partial when it sees another
  number of rows, two generations at once, or raises.
- `rescore_export_races`: a scorer process re-writes the round's tables under the round lock as the flow's
  write-tables and reapply-reviews tasks do, each re-score a new generation; an exporter process saves a
  reviewer's grade and exports (the station's path) in a loop. Under the lock, each re-score first checks
  that the tables still hold the previous generation (else an export reverted it) and that every grade in
  the log is in the final points (else one was lost).
"""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).parents[2]
ROWS = 40
"""Rows of every generation the reader race writes."""
PAUSE_S = 0.05
"""Longest pause between two re-scores (uniform)."""


def _item(generation: int, n: int) -> dict:
    return {"round_id": "r", "submission_id": f"s{n:03d}", "question_id": "1.1", "kind": "text",
            "max_points": 4.0, "raw_points": 2.0, "needs_review": False, "prompt_sha": f"gen-{generation}"}


WRITER = """
import sys, time
sys.path.insert(0, {here!r})
from races import ROWS, _item
from pipeline.store import write_partition
out, stop = sys.argv[1], time.monotonic() + float(sys.argv[2])
generation = 0
while time.monotonic() < stop:
    generation += 1
    write_partition(out, "item_scores", "r", [_item(generation, n) for n in range(ROWS)])
print(generation)
"""


@dataclass(frozen=True)
class ReadRace:
    """What the readers saw while the writer replaced the partition."""

    reads: int
    partial: int
    """Reads with another row count than ROWS, or two generations at once."""
    errors: list[str]
    """Reads that raised (first few kept)."""
    generations: int
    """Generations the writer wrote meanwhile."""
    seconds: float


def concurrent_reads(out: Path, reads: int) -> ReadRace:
    """`reads` reads (pyarrow, DuckDB, open_results in turn) while a writer process replaces the partition."""
    from pipeline.results import open_results
    from pipeline.store import query, read_table, write_partition

    write_partition(out, "item_scores", "r", [_item(0, n) for n in range(ROWS)])
    script = WRITER.format(here=str(Path(__file__).parent))
    writer = subprocess.Popen([sys.executable, "-c", script, str(out), "3600"], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    partial, errors, exceptions = 0, [], 0
    start = time.monotonic()
    try:
        time.sleep(0.5)  # the writer's imports
        for n in range(reads):
            try:
                if n % 3 == 0:
                    tags = read_table(out, "item_scores").column("prompt_sha").to_pylist()
                elif n % 3 == 1:
                    tags = [row[0] for row in query(out, "select prompt_sha from item_scores")[1]]
                else:
                    with open_results(out) as results:
                        tags = results.item_scores["prompt_sha"].tolist()
            except Exception as error:  # a read that fails is what this race counts
                exceptions += 1
                if len(errors) < 5:
                    errors.append(f"{type(error).__name__}: {error}")
                continue
            if len(tags) != ROWS or len(set(tags)) != 1:
                partial += 1
    finally:
        writer.terminate()
        writer.wait(timeout=30)
    seconds = time.monotonic() - start
    final = read_table(out, "item_scores").column("prompt_sha").to_pylist()
    return ReadRace(reads=reads, partial=partial + exceptions, errors=errors,
                    generations=int(final[0].removeprefix("gen-")), seconds=round(seconds, 1))


# The scorer and the exporter end as the `gradeflow` command does (gradeflow_cli.exit_process): Arrow's
# thread pools can abort a process at interpreter teardown, after its work is done and printed.
SCORER = """
import json, sys
sys.path.insert(0, {here!r})
from races import rescore
from gradeflow_cli import exit_process
print(json.dumps(rescore(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
exit_process(0)
"""

EXPORTER = """
import json, sys
sys.path.insert(0, {here!r})
from races import export_loop
from gradeflow_cli import exit_process
print(json.dumps(export_loop(*sys.argv[1:4])))
exit_process(0)
"""


def _tagged(rows: dict, generation: int) -> dict:
    """The round's rows with every item tagged with the generation in prompt_sha."""
    items = [dataclasses.replace(r, prompt_sha=f"gen-{generation}") for r in rows["item_scores"]]
    return {**rows, "item_scores": items}


def _scored_rows(round_dir: str) -> dict:
    """The round's rows as grading writes them (the tests' fake judge and code runner)."""
    sys.path.insert(0, str(REPO / "tests" / "review"))
    from review_rounds import FakeJudge, fake_execute

    from pipeline.grading import grade_batch, round_rows
    from pipeline.ingest import split_round
    from pipeline.rounds import load_round
    from rubric_schema import exam_sha

    rnd = load_round(round_dir)
    subs, _ = split_round(rnd.submissions_dir, [q.id for q in rnd.exam.questions])
    results = grade_batch(rnd.exam, subs, judge=FakeJudge(False), execute=fake_execute)
    return round_rows(rnd.config.round_id, exam_sha(rnd.exam), results, subs)


def _generations(out: str) -> set[str]:
    from pipeline.store import read_table

    return set(read_table(out, "item_scores").column("prompt_sha").to_pylist())


def _lost(view: object, out: str) -> list[str]:
    """Items the log decides whose final points or decider in item_scores are not the log's."""
    from pipeline.review import STORE_FILE, ReviewStore
    from pipeline.review._export import decisions, forms
    from pipeline.store import read_table

    decided = decisions(forms(view, ReviewStore(Path(out) / STORE_FILE).events(view.round_id)))
    items = {(r["submission_id"], r["question_id"]): r for r in read_table(out, "item_scores").to_pylist()}
    return [f"{key}: {items[key]['final_points']} by {items[key]['decided_by']}, the log says {d.points}"
            for key, d in decided.items()
            if items[key]["final_points"] != d.points or items[key]["decided_by"] != d.decided_by]


def rescore(round_dir: str, out: str, times: int) -> dict:
    """Re-score the round `times` times as the flow does: in its lock, write-tables then reapply-reviews.

    Each re-score first checks, in the lock, that the tables still hold the previous re-score's generation.
    """
    from flows.score_round import reapply_reviews, write_tables
    from pipeline.rounds import load_round, round_lock

    round_id = load_round(round_dir).config.round_id
    rows, reverted = _scored_rows(round_dir), []
    for generation in range(1, times + 1):
        with round_lock(out, round_id, wait_s=60) as held:
            seen = _generations(out)
            if seen != {f"gen-{generation - 1}"}:
                reverted.append(f"re-score {generation}: item_scores holds {sorted(seen)}")
            write_tables.fn(out, round_id, _tagged(rows, generation))
            reapply_reviews.fn(out, round_dir, round_id, held)
        time.sleep(random.uniform(0, PAUSE_S))  # re-scores come apart: the station's exports get in between
    with round_lock(out, round_id, wait_s=60):
        if _generations(out) != {f"gen-{times}"}:
            reverted.append(f"at the end: item_scores holds {sorted(_generations(out))}")
    return {"reverted": reverted}


def export_loop(round_dir: str, out: str, stop_file: str) -> dict:
    """Save a grade and export, over and over, as the station does after each saved form, until stop_file
    exists; after each export, in the lock, every grade of the log must be in the final points.
    """
    from pipeline.review import STORE_FILE, NewGrade, ReviewStore, RoundView, export
    from pipeline.rounds import round_lock

    view = RoundView(out, round_dir)
    store = ReviewStore(Path(out) / STORE_FILE)
    keys = sorted(view.items)
    exports, lost = 0, []
    while not Path(stop_file).exists():
        key = keys[exports % len(keys)]
        item = view.items[key]
        full = exports // len(keys) % 2 == 0  # the next pass over the items changes every grade
        grades = [NewGrade(c.id, c.points if full else 0.0) for c in view.exam.question(key[1]).all_criteria()]
        previous = max((e.seq for e in store.events(view.round_id, key) if e.reviewer == "alice"), default=0)
        store.add_form(form_id=uuid.uuid4().hex, round_id=view.round_id, item=key, reviewer="alice", grades=grades,
                       comment="race", mode="review", answer_sha=item.answer_sha,
                       question_sha=view.question_shas[key[1]], expected_version=previous)
        export(view, store)
        exports += 1
        with round_lock(out, view.round_id, wait_s=60):
            lost += [f"export {exports}: {line}" for line in _lost(view, out)]
    return {"exports": exports, "lost": lost}


@dataclass(frozen=True)
class ExportRace:
    """What the re-scores and the exports found in the tables, each time in the round lock."""

    rescores: int
    exports: int
    reverted: list[str]
    """Re-scores whose tables an export had replaced with an older generation."""
    lost: list[str]
    """Grades of the log missing from the final points after their export."""
    seconds: float


def rescore_export_races(root: Path, rescores: int, *, submissions: int = 6) -> ExportRace:
    """Build a review round, then race `rescores` re-scores against a station saving and exporting grades."""
    sys.path.insert(0, str(REPO / "tests" / "review"))
    from review_rounds import build

    from pipeline.store import write_partition

    rnd = build(root, submissions=submissions, questions=2)
    for table, rows in _tagged(_scored_rows(str(rnd.round_dir)), 0).items():
        write_partition(rnd.out, table, rnd.round_id, rows)
    here, stop = str(Path(__file__).parent), root / "stop"
    start = time.monotonic()
    exporter = subprocess.Popen(
        [sys.executable, "-c", EXPORTER.format(here=here), str(rnd.round_dir), str(rnd.out), str(stop)],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    scorer = subprocess.Popen(
        [sys.executable, "-c", SCORER.format(here=here), str(rnd.round_dir), str(rnd.out), str(rescores)],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        scored, _ = scorer.communicate(timeout=3600)
    finally:
        stop.touch()
        exported, _ = exporter.communicate(timeout=600)
    codes = (scorer.returncode, exporter.returncode)
    assert codes == (0, 0), (codes, scored, exported)
    scoring, exporting = json.loads(scored), json.loads(exported)
    return ExportRace(rescores=rescores, exports=exporting["exports"], reverted=scoring["reverted"],
                      lost=exporting["lost"], seconds=round(time.monotonic() - start, 1))
