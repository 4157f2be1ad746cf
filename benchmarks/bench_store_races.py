"""Issue 21 targets for the round tables: 0 of 10,000 concurrent reads see a partial partition, and 0 lost
or reverted grades over 1,000 re-score × export races.

Real processes, the real store and lock (tests/store/races.py, which tests/store/test_races.py runs small):
a writer process replaces the item_scores partition while this process reads it through pyarrow, DuckDB
and `open_results` in turn; then a scorer process re-scores a review round as the flow does (write-tables,
reapply-reviews, in the round lock) while an exporter process saves a grade and exports after each.

    .venv/bin/python benchmarks/bench_store_races.py --reads 10000 --rescores 1000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).parents[1]
sys.path.insert(0, str(REPO / "tests" / "store"))


def main() -> None:
    """Run both races, print JSON; exit 1 when a target is missed."""
    from races import concurrent_reads, rescore_export_races

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=10_000)
    parser.add_argument("--rescores", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as reads_dir, tempfile.TemporaryDirectory() as races_dir:
        reads = concurrent_reads(Path(reads_dir), args.reads)
        races = rescore_export_races(Path(races_dir), args.rescores)
    report = {"reads": dataclasses.asdict(reads), "races": dataclasses.asdict(races) | {
        "reverted": len(races.reverted), "lost": len(races.lost), "first": (races.reverted + races.lost)[:5]}}
    print(json.dumps(report, indent=2))
    sys.exit(0 if reads.partial == 0 and not races.reverted and not races.lost else 1)


if __name__ == "__main__":
    main()
