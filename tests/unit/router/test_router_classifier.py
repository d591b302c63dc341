"""The keyword rules put prompts in the article's four tiers, the most demanding match winning."""

from __future__ import annotations

import pytest

from sluicegate.common.v1 import chat_pb2
from sluicegate_router.classifier import KeywordClassifier

SIMPLE, MEDIUM, COMPLEX, CREATIVE = (
    chat_pb2.TASK_COMPLEXITY_SIMPLE,
    chat_pb2.TASK_COMPLEXITY_MEDIUM,
    chat_pb2.TASK_COMPLEXITY_COMPLEX,
    chat_pb2.TASK_COMPLEXITY_CREATIVE,
)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Extract the dates from this email", SIMPLE),
        ("True or false: water boils at 100 C", SIMPLE),
        ("Can you EXPLAIN recursion?", MEDIUM),
        ("Give me a description of the Eiffel tower", MEDIUM),
        ("Summarise this article", MEDIUM),
        ("Analyse the quarterly figures", COMPLEX),
        ("Implement a trie in Rust", COMPLEX),
        ("Imagine a city under the sea", CREATIVE),
        ("Extract the figures, then analyze the trend", COMPLEX),
        ("Explain this, then brainstorm alternatives", CREATIVE),
        ("Show me a preview of the page", MEDIUM),
        ("", MEDIUM),
    ],
)
def test_the_most_demanding_matching_tier_wins(prompt: str, expected: int) -> None:
    assert KeywordClassifier().classify(prompt) == expected
