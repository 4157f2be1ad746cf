"""GRADEFLOW_JUDGE_PROVIDER picks LangChain's chat models behind the same Judge."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from stub_judge import StubJudgeServer  # noqa: E402

from pipeline.ingest import Item  # noqa: E402
from pipeline.judge import JudgeConfigError, JudgeSettings, open_judge  # noqa: E402
from pipeline.judge._langchain import EmbeddedLangChain, LangChainChat  # noqa: E402
from pipeline.judge._local import LocalChat  # noqa: E402
from pipeline.judge._outage import PatientChat  # noqa: E402


def test_a_provider_opens_a_langchain_judge_that_reads_distributions(tmp_path, question, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a loopback endpoint needs no key
    with StubJudgeServer() as stub:
        settings = JudgeSettings(provider="openai:stub", base_url=stub.base_url, cache_dir=tmp_path, explain="never")
        with open_judge(settings) as judge:
            assert isinstance(judge.backend, PatientChat)  # an endpoint's outages are waited out
            assert isinstance(judge.backend._backend, LangChainChat) and judge.backend.model == "openai:stub"
            judgment = judge.judge_item(question, Item(submission_id="s", question_id="1.1", text="a heap"))
    assert all(a.distribution is not None for a in judgment.awards.values()) and not judge.stats.fallback
    assert stub.calls == len(judgment.awards)


def test_provider_local_is_the_embedded_model_through_langchain(tmp_path):
    with open_judge(JudgeSettings(provider="local", cache_dir=tmp_path)) as judge:
        assert isinstance(judge.backend, EmbeddedLangChain) and isinstance(judge.backend, LocalChat)
        assert judge.backend.server is None  # nothing started before the first call


def test_a_provider_without_a_model_is_a_configuration_error(tmp_path):
    with pytest.raises(JudgeConfigError, match="GRADEFLOW_JUDGE_PROVIDER"):
        with open_judge(JudgeSettings(provider="anthropic", cache_dir=tmp_path)):
            pass
