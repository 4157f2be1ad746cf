"""Issue 21 item 4: a re-score that finds fewer submission files than the tables hold never replaces them
unless allowed, and one that finds none never does (flows.score_round.refuse_shrink, before judging).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.score_round import refuse_shrink
from pipeline.rounds import RoundShrunk, load_round
from pipeline.store import write_partition

REPO = Path(__file__).parents[2]
RUBRIC = REPO / "eval_sets" / "ai-engineer-mid" / "rubric.yaml"


@pytest.fixture
def scored(tmp_path: Path):
    """A round whose tables hold three files: two Markdown sheets and a JSONL of two lines."""
    round_dir = tmp_path / "round"
    (round_dir / "submissions").mkdir(parents=True)
    (round_dir / "round.yaml").write_text(yaml.safe_dump({"round_id": "r", "exam": str(RUBRIC)}), encoding="utf-8")
    sources = [str(round_dir / "submissions" / name) for name in ("a.md", "b.md", "c.jsonl:1", "c.jsonl:2")]
    rows = [{"round_id": "r", "submission_id": f"s{n}", "source_file": source, "status": "scored"}
            for n, source in enumerate(sources)]
    write_partition(tmp_path / "out", "submissions", "r", rows)
    return load_round(round_dir), str(tmp_path / "out"), sources


def test_as_many_files_as_last_time_pass(scored) -> None:
    rnd, out, sources = scored
    refuse_shrink(out, rnd, sources, allow_shrink=False)
    refuse_shrink(out, rnd, [*sources[:3], "new.md"], allow_shrink=False)  # a JSONL line fewer: still 3 files


def test_fewer_files_are_refused_naming_the_missing_ones_unless_allowed(scored) -> None:
    rnd, out, sources = scored
    shrunk = r"1 of the 3 submission file\(s\) scored last time are not in .* \(gone: c.jsonl\).*--allow-shrink"
    with pytest.raises(RoundShrunk, match=shrunk):
        refuse_shrink(out, rnd, sources[:2], allow_shrink=False)
    refuse_shrink(out, rnd, sources[:2], allow_shrink=True)


def test_files_moved_into_a_subfolder_are_refused_though_as_many_are_found(scored) -> None:
    """A moved file is another submission (its id is its path): the old one's scores and grades would go."""
    rnd, out, sources = scored
    moved = [source.replace("/submissions/", "/submissions/batch2/") for source in sources]
    with pytest.raises(RoundShrunk, match=r"3 of the 3 .*gone: a.md, b.md, c.jsonl"):
        refuse_shrink(out, rnd, moved, allow_shrink=False)


def test_a_round_folder_moved_as_a_whole_is_the_same_round(scored, tmp_path: Path) -> None:
    rnd, out, sources = scored
    elsewhere = [source.replace(str(tmp_path / "round"), str(tmp_path / "archive" / "round")) for source in sources]
    refuse_shrink(out, rnd, elsewhere, allow_shrink=False)


def test_no_file_at_all_is_refused_even_when_shrinking_is_allowed(scored) -> None:
    rnd, out, _ = scored
    with pytest.raises(RoundShrunk, match="no submission files in .* holds 3 scored last time"):
        refuse_shrink(out, rnd, [], allow_shrink=True)


def test_a_round_never_scored_has_nothing_to_shrink(scored, tmp_path: Path) -> None:
    rnd, _, _ = scored
    refuse_shrink(str(tmp_path / "elsewhere"), rnd, [], allow_shrink=False)
