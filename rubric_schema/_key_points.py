"""The key points a criterion's text enumerates: what the judge can decide one by one, Yes or No.

A text enumerates when it lists parts (①②, (1), "1.", "1、") or separates statements with semicolons or
sentence ends. A part that ends in a colon ("链表：") is a header: it is kept in front of the parts that
follow it, so "链表：①…②…" gives "链表：…" twice, each readable on its own.
"""

from __future__ import annotations

import re

MAX_KEY_POINTS = 8
"""A text that splits into more parts than this is a list of details, not key points: it is not split."""
MIN_CHARS = 4
"""A part with fewer letters or digits than this (a stray "即", "e.g") is not a key point."""

_ENUMERATOR = re.compile(
    r"[①-⑳]"  # circled numbers
    r"|(?:^|(?<=[\s。；;：:，,]))[（(]\s*\d{1,2}\s*[)）]"  # (1) （1） (not log(0))
    r"|(?:^|(?<=[\s。；;：:，,]))\d{1,2}[.、](?!\d)"  # 1. 1、 (not 1.5)
    r"|(?:^|(?<=[\n。；;：:，,]))\s*\d{1,2}\)"  # 1) after punctuation (not "+ 1)")
)
_SEPARATOR = re.compile(r"[；;。！？!?\n]|(?<!e\.g)(?<!i\.e)\.(?=\s+[A-Z0-9])")
_HEADER_END = ("：", ":")
_TRIM = " \t，,、。；;.!?！？"


def _letters(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def enumerated_points(text: str) -> list[str]:
    """The text's parts as key points, or [] where it states one thing (or too many to be key points)."""
    pieces = [p for chunk in _ENUMERATOR.split(text) for p in _SEPARATOR.split(chunk)]
    points: list[str] = []
    header = ""
    for piece in pieces:
        part = piece.strip(_TRIM)
        if part.endswith(_HEADER_END):
            header = part if _letters(part) else ""
            continue
        if _letters(part) < MIN_CHARS:
            continue
        points.append(header + (" " if header.endswith(":") else "") + part if header else part)
    if len(points) < 2 or len(points) > MAX_KEY_POINTS:
        return []
    return points
