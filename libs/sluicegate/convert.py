"""Conversions between the chat protos and plain Python shapes (OpenAI-style dicts, text) that several services need."""

from __future__ import annotations

from collections.abc import Iterable

from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.metering.v1 import metering_pb2

ROLE_NAMES = {
    chat_pb2.ROLE_SYSTEM: "system",
    chat_pb2.ROLE_USER: "user",
    chat_pb2.ROLE_ASSISTANT: "assistant",
    chat_pb2.ROLE_TOOL: "tool",
    chat_pb2.ROLE_DEVELOPER: "developer",
}
ROLES_BY_NAME = {name: role for role, name in ROLE_NAMES.items()}


def message_texts(message: chat_pb2.Message) -> list[str]:
    """The texts a message carries, in order: its text parts and its documents (not image URLs)."""
    texts = []
    for part in message.content:
        kind = part.WhichOneof("part")
        if kind == "text":
            texts.append(part.text)
        elif kind == "document":
            texts.append(part.document.text)
    return texts


def message_text(message: chat_pb2.Message) -> str:
    """All the text a message carries, joined by newlines."""
    return "\n".join(message_texts(message))


def text_message(role: int, text: str) -> chat_pb2.Message:
    return chat_pb2.Message(role=role, content=[chat_pb2.ContentPart(text=text)])


def last_user_text(messages: Iterable[chat_pb2.Message]) -> str:
    text = ""
    for message in messages:
        if message.role == chat_pb2.ROLE_USER:
            text = message_text(message)
    return text


def estimate_text_tokens(text: str) -> int:
    """An upper-leaning token count for `text` without a tokenizer.

    ASCII runs at about 3.5 characters a token (BPE vocabularies average near 4 on English prose). Any other
    character counts one token per UTF-8 byte beyond the first: 1 for Cyrillic or Greek, 2 for CJK, 3 for emoji,
    since byte-level BPE splits rare characters into pieces. An estimate that ran low would let a reservation
    undershoot what the provider bills.
    """
    ascii_characters = 0
    other_tokens = 0
    for character in text:
        if ord(character) < 128:
            ascii_characters += 1
        else:
            other_tokens += len(character.encode()) - 1
    return other_tokens + (ascii_characters * 2 + 6) // 7


def estimate_prompt_tokens(messages: Iterable[chat_pb2.Message]) -> int:
    """The prompt's estimated tokens, per-message framing included: what a reservation is sized on before the
    call (the provider's actual usage is what gets charged after it)."""
    total = 3
    for message in messages:
        total += 4 + estimate_text_tokens(message_text(message))
        total += sum(estimate_text_tokens(call.arguments_json + call.name) for call in message.tool_calls)
    return total


def usage_charges(attempts: Iterable[decision_pb2.Attempt]) -> list[metering_pb2.UsageCharge]:
    """What settling a reservation charges: every provider attempt's usage, failed ones included, on its deployment."""
    return [
        metering_pb2.UsageCharge(model=attempt.model, deployment=attempt.deployment, usage=attempt.usage)
        for attempt in attempts
    ]
