from pathlib import Path

import pytest

from pipeline.judge import JudgeSettings


def test_gradeflow_cache_dir_moves_the_judge_cache_and_its_prefix_states(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    monkeypatch.delenv("GRADEFLOW_JUDGE_CACHE_DIR", raising=False)
    monkeypatch.setenv("GRADEFLOW_CACHE_DIR", str(tmp_path))
    settings = JudgeSettings()
    assert settings.cache_dir == tmp_path / "judge"
    assert settings.prefix_states_path == tmp_path / "prefix-states"


def test_a_judge_cache_named_on_its_own_wins_over_the_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRADEFLOW_CACHE_DIR", str(tmp_path / "root"))
    monkeypatch.setenv("GRADEFLOW_JUDGE_CACHE_DIR", str(tmp_path / "mine"))
    assert JudgeSettings().cache_dir == tmp_path / "mine"
    assert JudgeSettings(cache_dir=tmp_path / "given").cache_dir == tmp_path / "given"
