import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECK = REPO / "tools" / "lint_parquet_writers.py"


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK), str(root)], capture_output=True, text=True, timeout=60)


def test_every_parquet_writer_outside_the_store_is_named(tmp_path: Path) -> None:
    (tmp_path / "pipeline" / "review").mkdir(parents=True)
    (tmp_path / "pipeline" / "store").mkdir(parents=True)
    (tmp_path / "pipeline" / "review" / "_export.py").write_text(
        "import pyarrow.parquet as pq\n"
        "def save(table, frame, con):\n"
        "    pq.write_table(table, 'x.parquet')\n"
        "    frame.to_parquet('y.parquet')\n"
        "    con.execute(\"COPY item_scores TO 'z.parquet' (FORMAT parquet)\")\n"
    )
    (tmp_path / "pipeline" / "store" / "_tables.py").write_text(
        "import pyarrow.parquet as pq\ndef write(t):\n    pq.write_table(t, 'part-0.parquet')\n"
    )
    result = _check(tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "pipeline/review/_export.py:3: write_table() writes parquet outside pipeline.store",
        "pipeline/review/_export.py:4: to_parquet() writes parquet outside pipeline.store",
        "pipeline/review/_export.py:5: COPY … TO parquet outside pipeline.store",
    ]


def test_the_repository_writes_parquet_only_through_the_store() -> None:
    result = _check(REPO)
    assert (result.returncode, result.stdout) == (0, "")
