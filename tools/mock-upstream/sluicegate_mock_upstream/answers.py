"""The mock's deterministic answer: echo the last user message, estimate tokens, split text into stream chunks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# Filler words pad short answers so that a stream has enough distinct pieces to vary from chunk to chunk
# (litellm rejects a stream that repeats one chunk many times in a row).
_FILLER_WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
)  # fmt: skip

# Splits before every word that follows whitespace, so joining the pieces gives back the exact text.
_WORD_BOUNDARY = re.compile(r"(?<=\s)(?=\S)")

# The cheap token estimate below counts one token per this many characters.
CHARS_PER_TOKEN = 4


def content_text(content: Any) -> str:
    """Return the text of a message's content, given as a string or as a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        )
    return ""


def estimate_tokens(text: str) -> int:
    """Estimate tokens as ceil(characters / 4): deterministic and cheap, which is all the mock needs."""
    return -(-len(text) // CHARS_PER_TOKEN)


def prompt_tokens(messages: Sequence[dict[str, Any]]) -> int:
    """Estimate the prompt tokens of all messages."""
    return sum(estimate_tokens(content_text(message.get("content"))) for message in messages)


def last_user_text(messages: Sequence[dict[str, Any]]) -> str:
    """Return the text of the last user message, or of the last message if no message is from the user."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return content_text(messages[-1].get("content")) if messages else ""


def compose_answer(model: str, messages: Sequence[dict[str, Any]], fixed_answer: str | None, min_words: int) -> str:
    """Return the full answer before any max_tokens cut: a fixed answer, or an echo padded to min_words."""
    if fixed_answer is not None:
        return fixed_answer
    answer = f"Mock answer from {model}: you said: {last_user_text(messages)}"
    missing_words = min_words - len(answer.split())
    if missing_words > 0:
        filler = " ".join(_FILLER_WORDS[index % len(_FILLER_WORDS)] for index in range(missing_words))
        answer = f"{answer} {filler}"
    return answer


def truncate_to_tokens(text: str, max_tokens: int | None) -> tuple[str, str]:
    """Cut text to max_tokens by the same estimate as the usage; return (text, finish_reason)."""
    if max_tokens is None or estimate_tokens(text) <= max_tokens:
        return text, "stop"
    return text[: max_tokens * CHARS_PER_TOKEN], "length"


def split_into_chunks(text: str, chunk_count: int) -> list[str]:
    """Split text at word boundaries into at most chunk_count pieces of similar size that join back to it."""
    if not text:
        return []
    words = _WORD_BOUNDARY.split(text)
    if len(words) > 1 and not words[0].strip():
        # Leading whitespace joins the first word rather than becoming a chunk of its own.
        words[:2] = [words[0] + words[1]]
    count = min(chunk_count, len(words))
    bounds = [index * len(words) // count for index in range(count + 1)]
    return ["".join(words[bounds[index] : bounds[index + 1]]) for index in range(count)]
