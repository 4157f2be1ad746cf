"""The LLM judge: free-text items → per-criterion awards held to the rubric's schema.

One OpenAI-compatible path for every model; with no endpoint configured, the embedded
Qwen2.5-Coder-1.5B served by llama.cpp's llama-server on loopback.
"""

from pipeline.judge._backend import ChatBackend, ChatCallError, ChatReply, LabelReply, NoLogprobsError, OpenAIChat
from pipeline.judge._cache import CachedReply, JudgeCache, cache_key
from pipeline.judge._injection import Screening, screen
from pipeline.judge._judge import (
    ItemJudgment,
    Judge,
    JudgeCall,
    JudgeConfigError,
    JudgeStats,
    embedded_backend,
    judged_criteria,
    open_judge,
)
from pipeline.judge._local import MODEL_NAME, LocalChat, LocalModelError, assemble_model, local_server
from pipeline.judge._prompts import PROMPTS_DIR, Exemplar, PromptError
from pipeline.judge._settings import JudgeSettings

__all__ = [
    "MODEL_NAME",
    "CachedReply",
    "ChatBackend",
    "ChatCallError",
    "ChatReply",
    "Exemplar",
    "ItemJudgment",
    "Judge",
    "JudgeCache",
    "JudgeCall",
    "JudgeConfigError",
    "JudgeSettings",
    "JudgeStats",
    "LabelReply",
    "NoLogprobsError",
    "LocalChat",
    "LocalModelError",
    "OpenAIChat",
    "PROMPTS_DIR",
    "PromptError",
    "Screening",
    "assemble_model",
    "cache_key",
    "embedded_backend",
    "judged_criteria",
    "local_server",
    "open_judge",
    "screen",
]
