"""Checks on every verdict, as pure functions: evidence is a verbatim quote, rationales are short,
samples combine by median and their agreement is the confidence.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections.abc import Sequence
from difflib import SequenceMatcher

from rubric_schema import Criterion

_SPACE = re.compile(r"\s+")
_ELLIPSIS = re.compile(r"\.{3,}|…+|⋯+")
_QUOTES = "\"'“”‘’「」『』`《》 "
_EDGE_PUNCT = "。.，,；;：:！!？?、"
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=[.;；])(?=\s)")


def normalise(text: str) -> str:
    """Compare texts as a reader would: NFKC (full-width → ASCII), case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).casefold().strip()


QUOTE_SIMILARITY = 0.9
"""A quote counts as verbatim when 90% of its characters match one stretch of the answer in order:
small models fix typos while copying ("defination" → "definition"), which is still the answer's text."""


def _close_match(haystack: str, piece: str, start: int) -> int:
    """End of a stretch of `haystack` (from `start`) that matches `piece` closely, or -1."""
    exact = haystack.find(piece, start)
    if exact >= 0:
        return exact + len(piece)
    matcher = SequenceMatcher(None, piece, haystack[start:], autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size >= 3]
    if not blocks:
        return -1
    best = -1
    for first in range(len(blocks)):  # grow a run of blocks while it stays about as long as the quote
        matched = 0
        for last in range(first, len(blocks)):
            span = blocks[last].b + blocks[last].size - blocks[first].b
            if span > len(piece) * (2 - QUOTE_SIMILARITY):
                break
            matched += blocks[last].size
            if matched >= QUOTE_SIMILARITY * len(piece):
                best = start + blocks[last].b + blocks[last].size
                return best
    return best


def quote_in(answer: str, quote: str) -> bool:
    """Whether `quote` occurs in `answer` after normalisation (allowing small copying slips);
    "..." in a quote may skip text, the pieces in order.
    """
    haystack = normalise(answer)
    position = 0
    pieces = [normalise(p).strip(_QUOTES).strip(_EDGE_PUNCT).strip() for p in _ELLIPSIS.split(quote)]
    pieces = [p for p in pieces if p]
    if not pieces:
        return False
    for piece in pieces:
        end = _close_match(haystack, piece, position)
        if end < 0:
            return False
        position = end
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
