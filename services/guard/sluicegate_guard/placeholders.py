"""Reversible placeholders: `<EMAIL_ADDRESS_1>` in the prompt, the real value back in the answer, whole or streamed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*_[0-9]+>")
# A suffix that may still grow into a placeholder: "<", "<EMAIL_ADD", "<PERSON_1" (no closing ">" yet).
_PLACEHOLDER_START = re.compile(r"<[A-Z0-9_]*\Z")
MAX_PLACEHOLDER_CHARS = 64


@dataclass(frozen=True)
class Span:
    """A span of one text to replace, with the entity type that names its placeholder."""

    start: int
    end: int
    entity_type: str


class Pseudonymiser:
    """Gives each distinct value one placeholder per entity type for a whole request, across every message."""

    def __init__(self) -> None:
        self._placeholders: dict[tuple[str, str], str] = {}
        self._counts: dict[str, int] = {}
        self.mapping: dict[str, str] = {}

    def _placeholder(self, entity_type: str, value: str) -> str:
        key = (entity_type, value)
        if key not in self._placeholders:
            number = self._counts.get(entity_type, 0) + 1
            self._counts[entity_type] = number
            placeholder = f"<{entity_type}_{number}>"
            self._placeholders[key] = placeholder
            self.mapping[placeholder] = value
        return self._placeholders[key]

    def replace(self, text: str, spans: Iterable[Span]) -> str:
        """The text with each (non-overlapping) span replaced by its value's placeholder."""
        pieces = []
        position = 0
        for span in sorted(spans, key=lambda span: span.start):
            pieces.append(text[position : span.start])
            pieces.append(self._placeholder(span.entity_type, text[span.start : span.end]))
            position = span.end
        pieces.append(text[position:])
        return "".join(pieces)


def restore(text: str, mapping: Mapping[str, str]) -> str:
    """Puts the real values back; placeholders the mapping does not know stay as they are."""
    if not mapping:
        return text
    return PLACEHOLDER.sub(lambda match: mapping.get(match.group(), match.group()), text)


class PlaceholderStream:
    """Restores a streamed answer, holding back only a suffix that could be the start of a split placeholder."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = mapping
        self._held = ""

    def push(self, chunk: str) -> str:
        if not self._mapping:
            return chunk
        text = self._held + chunk
        cut = len(text)
        opening = text.rfind("<", max(0, len(text) - MAX_PLACEHOLDER_CHARS))
        if opening >= 0 and _PLACEHOLDER_START.match(text, opening):
            cut = opening
        self._held = text[cut:]
        return restore(text[:cut], self._mapping)

    def finish(self) -> str:
        text, self._held = self._held, ""
        return restore(text, self._mapping)
