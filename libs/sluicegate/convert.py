"""Conversions between the chat protos and plain Python shapes (OpenAI-style dicts, text) that several services need."""

from __future__ import annotations

from collections.abc import Iterable

from sluicegate.common.v1 import chat_pb2

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


def estimate_prompt_tokens(messages: Iterable[chat_pb2.Message]) -> int:
    """A fast upper-leaning token estimate (about 3.5 characters a token plus per-message framing).

    Used before a call to reserve budget; the provider's actual usage is what gets charged.
    """
    total = 3
    for message in messages:
        total += 4 + (len(message_text(message)) * 2 + 6) // 7
        total += sum((len(call.arguments_json) + len(call.name)) // 3 for call in message.tool_calls)
    return total
