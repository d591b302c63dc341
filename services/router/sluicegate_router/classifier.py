"""Keyword rules that put a prompt in one of the four complexity tiers (the article's rule-based classifier)."""

from __future__ import annotations

import re

from sluicegate.common.v1 import chat_pb2

# Checked in this order and the first tier with a match wins: when a prompt asks for several kinds of work,
# the most demanding one decides, because under-serving a hard prompt costs more than over-serving an easy one.
_RULES: tuple[tuple[int, tuple[str, ...]], ...] = (
    (chat_pb2.TASK_COMPLEXITY_COMPLEX, ("analy[sz]", "debug", "implement", "design", "review")),
    (chat_pb2.TASK_COMPLEXITY_CREATIVE, ("brainstorm", "creativ", "stor(?:y|ies)", "imagin")),
    (chat_pb2.TASK_COMPLEXITY_MEDIUM, ("summar", "expla(?:in|nat)", "describ", "descript")),
    (chat_pb2.TASK_COMPLEXITY_SIMPLE, ("classif", "extract", r"yes\s+or\s+no", r"true\s+or\s+false")),
)

DEFAULT_COMPLEXITY = chat_pb2.TASK_COMPLEXITY_MEDIUM


def _pattern(stems: tuple[str, ...]) -> re.Pattern[str]:
    # A stem must start a word ("reviewing" counts, "preview" does not); any ending is allowed.
    return re.compile(r"\b(?:" + "|".join(stems) + r")", re.IGNORECASE)


class KeywordClassifier:
    """Classifies a prompt by the first matching tier's keywords; MEDIUM when none match."""

    def __init__(self) -> None:
        self._rules = [(complexity, _pattern(stems)) for complexity, stems in _RULES]

    def classify(self, text: str) -> int:
        for complexity, pattern in self._rules:
            if pattern.search(text):
                return complexity
        return DEFAULT_COMPLEXITY
