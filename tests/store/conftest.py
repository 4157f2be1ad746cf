"""tests/store imports its race harness (races.py) by name, as benchmarks/bench_store_races.py does."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
