"""Judge settings come from GRADEFLOW_JUDGE_* (API key also from OPENAI_API_KEY); bad values fail early."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.judge import JudgeConfigError, JudgeSettings, open_judge
from pipeline.judge._outage import PatientChat


def test_reads_the_environment(monkeypatch):
    monkeypatch.setenv("GRADEFLOW_JUDGE_BASE_URL", "https://api.example.com/v1")
    monkeypatch.setenv("GRADEFLOW_JUDGE_CONCURRENCY", "8")
    monkeypatch.setenv("GRADEFLOW_JUDGE_MODE", "criterion")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback")
    settings = JudgeSettings()
    assert settings.base_url == "https://api.example.com/v1" and settings.concurrency == 8
    assert settings.mode == "criterion"
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "sk-fallback"
    assert "sk-fallback" not in repr(settings)
    monkeypatch.setenv("GRADEFLOW_JUDGE_API_KEY", "sk-own")
    assert JudgeSettings().api_key.get_secret_value() == "sk-own"


def test_invalid_values_name_the_setting(monkeypatch):
    monkeypatch.setenv("GRADEFLOW_JUDGE_SAMPLES", "0")
    with pytest.raises(ValidationError, match="samples"):
        JudgeSettings()


def test_remote_endpoint_needs_a_model_and_a_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("GRADEFLOW_JUDGE_API_KEY", raising=False)
    with (
        pytest.raises(JudgeConfigError, match="GRADEFLOW_JUDGE_MODEL"),
        open_judge(JudgeSettings(base_url="https://api.example.com/v1")),
    ):
        pass
    with (
        pytest.raises(JudgeConfigError, match="OPENAI_API_KEY"),
        open_judge(JudgeSettings(base_url="https://api.example.com/v1", model="gpt-4o-mini")),
    ):
        pass


def test_an_endpoint_judge_waits_out_outages_within_the_settings_budget(tmp_path):
    """open_judge, not the flow, puts an endpoint's calls behind its Patience (issue 15 item 5)."""
    settings = JudgeSettings(base_url="http://127.0.0.1:9/v1", model="m", outage_budget_s=7, cache_dir=tmp_path)
    with open_judge(settings) as judge:
        assert isinstance(judge.backend, PatientChat)
        assert (judge.backend.patience.endpoint, judge.backend.patience.budget_s) == (settings.base_url, 7)
    with open_judge(JudgeSettings(cache_dir=tmp_path)) as embedded:  # supervised inside LocalChat instead
        assert not isinstance(embedded.backend, PatientChat)
