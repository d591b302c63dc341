"""Reversible placeholders: `<EMAIL_ADDRESS_1>` in the prompt, the real value back in the answer, whole or streamed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*_[0-9]+>")
# A suffix that may still grow into a placeholder: "<", "<EMAIL_ADD", "<PERSON_1" (no closing ">" yet).
_PLACEHOLDER_START = re.compile(r"<[A-Z0-9_]*\Z")
MAX_PLACEHOLDER_CHARS = 64


def placeholder_type(placeholder: str) -> str:
    """The entity type a placeholder stands for: `<EMAIL_ADDRESS_1>` → `EMAIL_ADDRESS`."""
    return placeholder.strip("<>").rsplit("_", 1)[0]


# Entity types whose last four characters identify them to their owner ("card ending 1234").
_MASK_KEEPS_LAST_FOUR = frozenset({"CREDIT_CARD", "PHONE_NUMBER", "IBAN_CODE", "US_SSN"})


@dataclass(frozen=True)
class Span:
    """A span of one text to replace, its entity type, and how: a placeholder, a mask or a redaction."""

    start: int
    end: int
    entity_type: str
    treatment: str = "pseudonymise"


def mask(value: str, entity_type: str) -> str:
    """Stars every letter and digit but the last four (cards, phones, IBANs, SSNs) or the first; separators stay."""
    positions = [index for index, character in enumerate(value) if character.isalnum()]
    kept = set(positions[-4:] if entity_type in _MASK_KEEPS_LAST_FOUR else positions[:1])
    return "".join("*" if index in positions and index not in kept else c for index, c in enumerate(value))


def redaction(entity_type: str) -> str:
    """The redaction mark: square brackets, so it is never taken for a restorable placeholder."""
    return f"[{entity_type}]"


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
        """The text with each (non-overlapping) span replaced by its placeholder, mask or redaction mark."""
        pieces = []
        position = 0
        for span in sorted(spans, key=lambda span: span.start):
            pieces.append(text[position : span.start])
            value = text[span.start : span.end]
            if span.treatment == "mask":
                pieces.append(mask(value, span.entity_type))
            elif span.treatment == "redact":
                pieces.append(redaction(span.entity_type))
            else:
                pieces.append(self._placeholder(span.entity_type, value))
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
