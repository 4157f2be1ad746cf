"""The judge through LangChain's ChatOpenAI against the embedded llama-server: real model, offline.

The same server, model, prompts and settings judge the same real answers twice: through the openai-SDK
backend the local judge uses, and through `LangChainChat` ("openai:<model>" via `init_chat_model`, pointed
at the server). The points must agree on every item: the same expected points (to 0.1) in the one-token
distribution mode (the default), the same points in the generated-verdict mode.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("langchain", reason="the langchain extra is not installed")

from pipeline.ingest import Item  # noqa: E402
from pipeline.judge import Judge, JudgeSettings, OpenAIChat, local_server  # noqa: E402
from pipeline.judge._langchain import LangChainChat  # noqa: E402
from rubric_schema import Question  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

CASES = yaml.safe_load(
    (Path(__file__).parents[1] / "judge" / "data" / "injection_cases.yaml").read_text(encoding="utf-8")
)


def _pair(base: dict) -> tuple[Question, Item]:
    question = Question.model_validate(
        {
            "id": "1.1", "title": base["question"][:40], "prompt": base["question"], "language": base["language"],
            "points": base["max_points"],
            "criteria": [{"id": "holistic", "title": "Agreement with the reference", "points": base["max_points"],
                          "step": 1, "earns_points_for": "the answer states what the reference answer states",
                          "reference": base["reference"]}],
        }
    )  # fmt: skip
    return question, Item(submission_id=base["id"], question_id=question.id, text=base["answer"])


PAIRS = [_pair(base) for base in CASES["bases"] if base["language"] == "en"][:3]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No endpoint, no key: the embedded model is the only one."""
    for name in ("GRADEFLOW_JUDGE_BASE_URL", "GRADEFLOW_JUDGE_API_KEY", "OPENAI_API_KEY", "GRADEFLOW_JUDGE_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def server():
    """One real llama-server for the module."""
    with local_server(JudgeSettings(concurrency=2, local_parallel=2)) as running:
        yield running


@pytest.mark.parametrize("mode", ["distribution", "item"])
def test_langchain_gives_the_local_judges_points_on_every_item(server, mode, tmp_path):
    settings = JudgeSettings(base_url=server.base_url, model=server.model, mode=mode, concurrency=2)
    local = OpenAIChat(base_url=server.base_url, model=server.model, api_key="local", timeout_s=600, max_retries=0,
                       grammar=True)  # fmt: skip
    chain = LangChainChat(f"openai:{server.model}", base_url=server.base_url, api_key="local", timeout_s=600,
                          max_retries=0, grammar=True)  # fmt: skip
    reference = Judge(local, settings.model_copy(update={"cache_dir": tmp_path / "local"})).judge_items(PAIRS)
    through = Judge(chain, settings.model_copy(update={"cache_dir": tmp_path / "langchain"}))
    judged = through.judge_items(PAIRS)
    assert len(PAIRS) == 3 and through.stats.calls >= len(PAIRS), "judged by the model, not a cache"
    assert through.stats.fallback == ""
    for (_, item), mine, theirs in zip(PAIRS, judged, reference, strict=True):
        assert mine.calls[0].error is None, mine.calls[0].error
        ours, langchains = theirs.awards["holistic"], mine.awards["holistic"]
        if mode == "distribution":
            # llama.cpp's sums are not bitwise stable across slots and prompt-cache reuse: the same request
            # gives the same distribution to about 0.01, and a snap near a half step may go either way
            assert langchains.expected_points == pytest.approx(ours.expected_points, abs=0.1), item.submission_id
            assert abs(langchains.points - ours.points) <= 1, item.submission_id
        else:
            assert langchains.points == ours.points, item.submission_id
        assert mine.calls[0].model == f"openai:{server.model}"
