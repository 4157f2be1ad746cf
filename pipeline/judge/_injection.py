"""Prompt-injection screening: find text in an answer that addresses the grader, and cut it out.

The judge scores the answer without the parts found here, and the item is flagged for review. A list of
patterns only finds the wordings it was written for: what it misses reaches the judge, whose prompt marks
the answer as data (docs/BENCHMARKS.md "Injection" measures recall on held-out wordings and the points
an injection still adds). Patterns aim at text that speaks to the grader (asks for marks, overrides
instructions, forges roles, JSON verdicts or delimiters), not at answers that discuss those topics in the
abstract; they are matched on a folded copy (NFKC, Cyrillic look-alikes made Latin) with invisible
characters removed, so a zero-width space or a homoglyph does not hide a phrase. Given an `IntentReader`
(`_intent`), the screen also cuts the sentences it reads as addressing the grader by their meaning: the
wordings no pattern lists.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from pipeline.judge._intent import IntentReader

_I = re.IGNORECASE
_GRADER = "grader|examiner|evaluator|marker|judge|assistant|ai|llm|teacher|professor"
_RULES = "instructions?|rubric|rules?|criteri\\w*|prompts?|guidelines?|marking|grading|scoring"

_ADDRESSING = re.compile(  # one alternation: a sentence is searched once, not once per pattern
    "|".join(
        f"(?:{p})"
        for p in (
            # English
            # an order (sentence start, after a quote, "please"), not a description ("makes the model ignore")
            rf"(^|[\"'“‘(:：,，]\s*|\b(please|kindly|now|just|simply|must|should)\s+)"
            rf"(ignore|disregard|forget|override|bypass)\b.{{0,40}}\b({_RULES})\b",
            r"\b(ignore|disregard|forget)\s+(all\s+)?(the\s+)?(previous|prior|above|earlier)\s+(text|context|content)",
            r"\b(give|award|assign|grant)\b.{0,40}\b(full|maximum|max|perfect|top|highest)\s+"
            r"(marks?|points?|scores?|credit|grades?)",
            r"\b(deserves?|earns?|merits?|should\s+(get|receive|be\s+given))\b.{0,30}"
            r"\b(full|maximum|perfect|top)\s+(marks?|points?|score|credit)",
            rf"\b(dear|note\s+to(\s+the)?|hey|hello)\s*,?\s*(the\s+)?({_GRADER})\b",
            rf"\b({_GRADER})\s*[:,]\s*(please|you\s+must|you\s+should|ignore|give|award|set|output)\b",
            r"\byou\s+(are|must|should|will|shall)\b.{0,30}\b(grade|award|give)\b.{0,30}"
            r"\b(points?|marks?|score|credit|answer)",
            r"\b(score|points?|grade|marks?)\s*[:=]\s*\d+(\.\d+)?\s*/\s*\d+",
            r"\b(output|respond|reply)\b.{0,20}\b(json|full\s+marks)\b",
            r"\bnew\s+instructions?\b",
            r"\b(system|developer)\s+(prompt|message|instructions?)\s*[:：]",
            # 中文
            r"(忽略|无视|忘记|忘掉|不要理会|不必理会|忽视).{0,15}(指令|指示|评分标准|评分规则|规则|要求|提示词?|评分项)",
            r"(以上|之前|上面|前面|上述)的?(所有)?(指令|指示)",
            r"(给|打|判|评)(我|本题|这道题|这个答案|本答案|该答案|此答案|这份答案|它)?.{0,6}(满分|全部分数|全分)",
            r"(应该|应当|必须|理应|请)(得|获得|给|打|判|评).{0,6}(满分|最高分|全分)",
            r"(阅卷|评分|批改|评卷)(老师|员|者|人|模型|系统|助手|AI)\s*[，,:：]?\s*(请|你|务必|必须|注意)",
            r"(致|亲爱的|尊敬的)\s*(阅卷|评分|批改|评卷)",
            r"你(现在)?(是|作为|扮演).{0,10}(评分|阅卷|助手|老师)",
            r"(新的|以下是新的|最新的?)(指令|指示)",
            r"(系统|开发者)(提示|指令|消息)\s*[:：]",
            r"(分数|得分|评分|分值)\s*[:：=]\s*\d+(\.\d+)?\s*/\s*\d+",
            r"(输出|返回|回复).{0,10}(json|满分)",
        )
    ),
    _I,
)
_ROLE_LINE = re.compile(r"^\s*(#+\s*)?\**\s*(system|assistant|user|developer|系统|助手|用户)\s*\**\s*[:：]", _I)
_FAKE_TAG = re.compile(
    r"<\|?\s*/?\s*(im_start|im_end|system|assistant|user|endoftext|eot_id|start_header_id)\s*\|?>"
    r"|\[/?(INST|SYS)\]|<<\s*/?SYS\s*>>|<\s*/?\s*answer\s*>",
    _I,
)
_ROLE_BLOCK = re.compile(r"<\|im_start\|>[\s\S]*?<\|im_end\|>|\[INST\][\s\S]*?\[/INST\]", _I)
"""A forged turn, opened and closed; a lone tag only costs its line (what follows may be the answer)."""
_VERDICT_KEY = re.compile(
    r"[\"'](points|score|scores|evidence|rationale|verdict|mentions|grade|marks|分数|得分|评分)[\"']\s*:", _I
)
_JUDGE_KEY = re.compile(r"[\"'](evidence|rationale|verdict|criteria)[\"']\s*:", _I)
_INVISIBLE = re.compile("[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")
"""Zero-width and other invisible characters: they split a phrase for a regex but not for a model."""
_LOOKALIKES = str.maketrans("асеорхуіјѕԁһАВЕКМНОРСТХІЈЅ", "aceopxyijsdhABEKMHOPCTXIJS")
"""Cyrillic letters drawn like Latin ones, folded for detection only (the judged text keeps them)."""
_WORD = re.compile(r"\w")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})", re.MULTILINE)
_BARE_SCORE = re.compile(
    r"^\s*((score|points?|grade|marks?|分数|得分)\s*[:：=]?\s*)?\d+(\.\d+)?\s*(/\s*\d+(\.\d+)?)?"
    r"\s*(分|points?|marks?)?\s*[.。]?\s*$",
    _I,
)
"""A line that is nothing but a score: a forged turn's reply when it follows a forged role line or tag."""
_SENTENCE = re.compile(r"(?<=[。！？!?；;])|(?<=\.)(?=\s)")


class Screening(BaseModel):
    """The answer with suspected injections removed, and what was removed (for the reviewer)."""

    model_config = ConfigDict(frozen=True)

    text: str
    findings: list[str]

    @property
    def suspected(self) -> bool:
        """Whether anything addressed to the grader was found."""
        return bool(self.findings)


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _json_objects(text: str) -> list[tuple[int, int]]:
    """Spans of balanced {...} blocks (outermost) in the text."""
    spans: list[tuple[int, int]] = []
    depth, start = 0, -1
    for position, char in enumerate(text):
        if char == "{":
            if depth == 0:
                start = position
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append((start, position + 1))
    return spans


def _fenced(text: str) -> list[tuple[int, int]]:
    """Spans of fenced code blocks (an unclosed fence runs to the end)."""
    marks = [m.start() for m in _FENCE.finditer(text)]
    if len(marks) % 2:
        marks.append(len(text))
    return list(zip(marks[::2], marks[1::2], strict=True))


def _cut_fake_verdicts(text: str, findings: list[str]) -> str:
    """Remove {...} blocks shaped like a verdict; inside code only judge-specific keys count (a dict
    with a "score" key is ordinary code).
    """
    fences = _fenced(text)
    for start, end in reversed(_json_objects(text)):
        block = text[start:end]
        in_code = any(a <= start < b for a, b in fences)
        if (_JUDGE_KEY if in_code else _VERDICT_KEY).search(block):
            findings.append(_snippet(block))
            text = text[:start] + text[end:]
    return text


def _cut_role_blocks(text: str, findings: list[str]) -> str:
    def cut(match: re.Match[str]) -> str:
        findings.append(_snippet(match.group(0)))
        return "\n"

    return _ROLE_BLOCK.sub(cut, text)


def _clean_line(line: str, findings: list[str], flagged: set[str]) -> str | None:
    """Drop the sentences addressed to the grader from a line (by pattern, or `flagged` by meaning); None
    when nothing is left of it.
    """
    if _forged_turn(line):
        findings.append(_snippet(line))
        return None
    sentences = [s for s in _SENTENCE.split(line) if s]
    kept = []
    for sentence in sentences:
        if _addresses_grader(sentence.strip()) or _fold(sentence.strip()) in flagged:
            findings.append(_snippet(sentence))
        else:
            kept.append(sentence)
    if len(kept) == len(sentences):
        return line
    cleaned = "".join(kept).rstrip()
    return cleaned if _WORD.search(cleaned) else None  # a cut leaves no "<!" or "）" behind


def _forged_turn(line: str) -> bool:
    return bool(_ROLE_LINE.match(_fold(line)) or _FAKE_TAG.search(_fold(line)))


def _drop_empty_fences(lines: list[str]) -> list[str]:
    """Remove fenced blocks with nothing left inside (the code comment that filled them was cut)."""
    kept: list[str] = []
    inside = False
    position = 0
    while position < len(lines):
        line = lines[position]
        if _FENCE.match(line):
            if not inside:
                after = position + 1
                while after < len(lines) and not lines[after].strip():
                    after += 1
                if after < len(lines) and _FENCE.match(lines[after]):
                    position = after + 1
                    continue
            inside = not inside
        kept.append(line)
        position += 1
    return kept


def canonical(answer: str) -> str:
    """Collapse runs of spaces inside lines (indentation kept); drop trailing spaces and extra blank lines."""
    answer = _INVISIBLE.sub("", answer)
    lines = [re.sub(r"(?<=\S)[ \t]{2,}", " ", line).rstrip() for line in answer.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def _sentences(line: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(line) if s.strip()]


def folded_sentences(text: str) -> list[str]:
    """The text's sentences as the screen reads them: per line, split at sentence ends, folded."""
    return [_fold(sentence) for line in text.splitlines() for sentence in _sentences(line)]


def _fold(text: str) -> str:
    """What a reader sees: compatibility forms unified (full-width letters), look-alike letters made Latin."""
    return unicodedata.normalize("NFKC", text).translate(_LOOKALIKES)


def _addresses_grader(sentence: str) -> bool:
    return _ADDRESSING.search(_fold(sentence)) is not None


def _suspicious(text: str) -> bool:
    return any(
        _ROLE_LINE.match(_fold(line)) or _FAKE_TAG.search(_fold(line)) or any(map(_addresses_grader, _sentences(line)))
        for line in text.splitlines()
    )


def screen(answer: str, intent: IntentReader | None = None) -> Screening:
    """Find and remove role blocks, fake JSON verdicts, forged tags and sentences that address the grader
    (by pattern, and by meaning where an `intent` reader is given).

    The text judged is the canonical answer, so an answer with an injection removed is judged exactly
    like the same answer without it.
    """
    text = canonical(answer)
    findings: list[str] = []
    stripped = _cut_fake_verdicts(_cut_role_blocks(text, findings), findings)
    flagged = set() if intent is None else intent.flagged(folded_sentences(stripped))
    if not findings and not flagged and not _suspicious(stripped):
        return Screening(text=text, findings=[])
    kept: list[str] = []
    after_forged_turn = False
    for line in stripped.split("\n"):
        if after_forged_turn and _BARE_SCORE.match(_fold(line)):
            findings.append(_snippet(line))  # the forged turn's reply: a score
            continue
        after_forged_turn = _forged_turn(line)
        cleaned = _clean_line(line, findings, flagged)
        if cleaned is not None:
            kept.append(cleaned)
    return Screening(text=canonical("\n".join(_drop_empty_fences(kept))), findings=findings)
