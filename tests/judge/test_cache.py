"""The on-disk cache: content-addressed keys, atomic writes, unreadable entries are misses."""

from __future__ import annotations

from pipeline.judge import CachedReply, JudgeCache, cache_key

BASE = dict(model="m", prompt_sha="p", rubric_sha="r", answer="a", raw_answer="a!", sample=0, temperature=0.0)


def test_key_changes_with_everything_a_reply_depends_on():
    keys = {cache_key(**BASE)}
    for field, value in [("model", "m2"), ("prompt_sha", "p2"), ("rubric_sha", "r2"), ("answer", "a2"),
                         ("raw_answer", "a2"), ("sample", 1), ("temperature", 0.7)]:  # fmt: skip
        keys.add(cache_key(**{**BASE, field: value}))
    assert len(keys) == 8
    assert cache_key(**BASE) == cache_key(**dict(BASE))


def test_put_then_get_round_trips(tmp_path):
    cache = JudgeCache(tmp_path)
    key = cache_key(**BASE)
    assert cache.get(key) is None
    cache.put(key, CachedReply(content='{"x": 1}', tokens_in=5, tokens_out=2, latency_ms=3.0))
    assert cache.get(key) == CachedReply(content='{"x": 1}', tokens_in=5, tokens_out=2, latency_ms=3.0)
    assert not list(tmp_path.rglob("*.tmp"))


def test_corrupt_entry_is_a_miss(tmp_path):
    cache = JudgeCache(tmp_path)
    key = cache_key(**BASE)
    cache.put(key, CachedReply(content="{}"))
    next(tmp_path.rglob("*.json")).write_text("{not json")
    assert cache.get(key) is None
