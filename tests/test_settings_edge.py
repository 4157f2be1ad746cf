import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECK = REPO / "tools" / "lint_settings_edge.py"


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK), str(root)], capture_output=True, text=True, timeout=60)


def test_settings_built_or_gradeflow_variables_read_below_the_edge_are_named(tmp_path: Path) -> None:
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "executors").mkdir()
    (tmp_path / "flows").mkdir()
    (tmp_path / "pipeline" / "settings.py").write_text(
        "from pydantic import BaseModel\nfrom pydantic_settings import BaseSettings\n"
        "class ScoreSettings(BaseSettings):\n    workers: int = 4\n"
        "class RoundSettings(BaseModel):\n    samples: int = 1\n"
    )
    (tmp_path / "executors" / "_settings.py").write_text(
        "import pydantic_settings\nclass ExecSettings(pydantic_settings.BaseSettings):\n    seed: int = 0\n"
        "class GpuSettings(ExecSettings):\n    gpus: int = 1\n"
    )
    (tmp_path / "pipeline" / "embed.py").write_text(
        "import os\n"
        "from os import environ, getenv\n"
        "from pydantic import Field\n"
        "from executors._settings import GpuSettings as Gpu\n"
        "from pipeline.settings import RoundSettings, ScoreSettings\n"
        "def root(settings: ScoreSettings, key: str):\n"
        "    round_ = RoundSettings()\n"  # a plain model reads no environment
        "    path = os.environ.get('PATH', '')\n"  # not a GRADEFLOW_ variable
        "    return (\n"
        "        ScoreSettings(),\n"
        "        Gpu(),\n"
        "        Field(default_factory=ScoreSettings),\n"
        "        os.environ.get('GRADEFLOW_CACHE_DIR'),\n"
        "        os.getenv(f'GRADEFLOW_{key}'),\n"
        "        environ['GRADEFLOW_WORKERS'],\n"
        "        'GRADEFLOW_SAMPLES' in os.environ,\n"
        "        getenv('GRADEFLOW_SEED'),\n"
        "    )\n"
    )
    (tmp_path / "flows" / "serve.py").write_text(  # the edge builds them
        "import os\nfrom pipeline.settings import ScoreSettings\nsettings = ScoreSettings()\n"
        "every = os.environ.get('GRADEFLOW_PROGRESS_EVERY_S')\n"
    )
    result = _check(tmp_path)
    assert result.returncode == 1
    edge = "below the edge (gradeflow_cli, flows)"
    assert result.stdout.splitlines() == [
        f"pipeline/embed.py:{line}: {what} reads the environment {edge}"
        for line, what in [
            (10, "ScoreSettings()"),
            (11, "Gpu()"),
            (12, "default_factory=ScoreSettings"),
            (13, "os.environ.get('GRADEFLOW_CACHE_DIR')"),
            (14, "os.getenv('GRADEFLOW_…')"),
            (15, "os.environ['GRADEFLOW_WORKERS']"),
            (16, "'GRADEFLOW_SAMPLES' in os.environ"),
            (17, "getenv('GRADEFLOW_SEED')"),
        ]
    ]


def test_below_the_edge_is_every_package_of_the_layer_contract_but_the_cli_and_the_flows() -> None:
    sys.path.insert(0, str(CHECK.parent))
    try:
        import lint_settings_edge
    finally:
        sys.path.remove(str(CHECK.parent))
    contract = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    assert contract["contracts"][0]["layers"][:2] == list(lint_settings_edge.EDGE)
    assert set(contract["root_packages"]) == {*lint_settings_edge.EDGE, *lint_settings_edge.BELOW_THE_EDGE}


def test_the_repository_builds_settings_only_at_the_edge() -> None:
    result = _check(REPO)
    assert (result.returncode, result.stdout) == (0, "")
