"""`--judge local|openai|langchain` narrows the environment's judge settings to the judge asked for."""

from __future__ import annotations

import pytest

from flows.score_round import judge_settings_for


def test_each_kind_of_judge_gets_its_own_settings(monkeypatch):
    monkeypatch.setenv("GRADEFLOW_JUDGE_BASE_URL", "https://judge.example/v1")
    monkeypatch.setenv("GRADEFLOW_JUDGE_PROVIDER", "anthropic:claude-3-5-haiku-latest")
    local = judge_settings_for("local")
    assert local.base_url is None and local.provider is None
    remote = judge_settings_for("openai")
    assert remote.base_url == "https://judge.example/v1" and remote.provider is None
    assert judge_settings_for("langchain").provider == "anthropic:claude-3-5-haiku-latest"


def test_langchain_without_a_provider_is_the_embedded_model_through_langchain(monkeypatch):
    monkeypatch.setenv("GRADEFLOW_JUDGE_BASE_URL", "https://judge.example/v1")
    monkeypatch.delenv("GRADEFLOW_JUDGE_PROVIDER", raising=False)
    settings = judge_settings_for("langchain")
    assert settings.provider == "local" and settings.base_url is None


def test_openai_without_an_endpoint_fails_before_any_round_starts(monkeypatch):
    """The judge settings are read at the edge (run_round, score-new-rounds), so a missing endpoint is said there."""
    monkeypatch.delenv("GRADEFLOW_JUDGE_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="GRADEFLOW_JUDGE_BASE_URL"):
        judge_settings_for("openai")
