"""Checks on every verdict, as pure functions: evidence is a verbatim quote, rationales are short,
samples combine by median and their agreement is the confidence.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections.abc import Sequence

from rubric_schema import Criterion

_SPACE = re.compile(r"\s+")
_ELLIPSIS = re.compile(r"\.{3,}|…+|⋯+")
_QUOTES = "\"'“”‘’「」『』`《》 "
_EDGE_PUNCT = "。.，,；;：:！!？?、"
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=[.;；])(?=\s)")


def normalise(text: str) -> str:
    """Compare texts as a reader would: NFKC (full-width → ASCII), case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).casefold().strip()


def quote_in(answer: str, quote: str) -> bool:
    """Whether `quote` occurs in `answer` after normalisation; "..." in a quote may skip text (in order)."""
    haystack = normalise(answer)
    position = 0
    pieces = [normalise(p).strip(_QUOTES).strip(_EDGE_PUNCT).strip() for p in _ELLIPSIS.split(quote)]
    pieces = [p for p in pieces if p]
    if not pieces:
        return False
    for piece in pieces:
        found = haystack.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def two_sentences(text: str) -> str:
    """Keep at most the first two sentences of a rationale."""
    sentences = [s for s in _SENTENCE_END.split(text.strip()) if s.strip()]
    return "".join(sentences[:2]).strip() if len(sentences) > 2 else text.strip()


def distinct_mentions(answer: str, mentions: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split a judge's mention list into distinct verbatim ones and ones not found in the answer."""
    kept: list[str] = []
    seen: set[str] = set()
    rejected: list[str] = []
    for mention in mentions:
        key = normalise(mention).strip(_QUOTES).strip(_EDGE_PUNCT)
        if not key or key in seen:
            continue
        if quote_in(answer, mention):
            kept.append(mention.strip())
            seen.add(key)
        else:
            rejected.append(mention)
    return kept, rejected


def combine(values: Sequence[float]) -> float:
    """Take the median of sample points; the lower middle for an even count, so a judge gave it."""
    return statistics.median_low(values)


def agreement(criterion: Criterion, values: Sequence[float], samples: int) -> float:
    """Score 1 when all samples agree, 0 when they span the whole range; failed samples count against."""
    if not values:
        return 0.0
    spread = (max(values) - min(values)) / criterion.points
    return max(0.0, 1.0 - spread) * len(values) / samples


def confidence(weights: Sequence[float], agreements: Sequence[float]) -> float:
    """Agreement averaged over criteria, weighted by their points."""
    total = sum(weights)
    if not total:
        return 1.0
    return round(sum(w * a for w, a in zip(weights, agreements, strict=True)) / total, 4)
