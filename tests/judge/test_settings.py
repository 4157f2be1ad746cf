"""Judge settings come from GRADEFLOW_JUDGE_* (API key also from OPENAI_API_KEY); bad values fail early."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.judge import JudgeConfigError, JudgeSettings, open_judge


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
