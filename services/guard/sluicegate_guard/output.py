"""Scanning answers: the canary, and credentials the prompt did not bring, whole or over a streaming window."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sluicegate_guard.credentials import CredentialDetector
from sluicegate_guard.placeholders import PlaceholderStream
from sluicegate_guard.verdicts import ANSWER, Action, Finding, Kind

# Released text kept for the credential check, so a key split across chunks is still seen whole.
STREAM_WINDOW_CHARS = 256


class OutputScreen:
    """Finds the canary and credentials in answer text.

    A credential the caller put in the prompt comes back restored from its placeholder; that is the
    caller's own value, not a leak, so values restored from the vault are not reported.
    """

    def __init__(self, detector: CredentialDetector, canary: str, restored_values: Iterable[str]) -> None:
        self._detector = detector
        self._canary = canary
        self._restored = [value for value in restored_values if value]

    def findings(self, text: str, offset: int = 0) -> list[Finding]:
        found = []
        if self._canary:
            position = text.find(self._canary)
            if position >= 0:
                found.append(_finding(Kind.CANARY_LEAK, "CANARY", 1.0, offset + position, len(self._canary), "canary"))
        for match in self._detector.find(text):
            value = text[match.start : match.end]
            if not any(value in restored for restored in self._restored):
                found.append(
                    _finding(Kind.SECRET, match.entity_type, match.score, offset + match.start, len(value), "patterns")
                )
        return found

    def canary_prefix_length(self, text: str) -> int:
        """The length of the longest suffix of `text` that could be the start of the canary."""
        for length in range(min(len(self._canary) - 1, len(text)), 0, -1):
            if text.endswith(self._canary[:length]):
                return length
        return 0


def _finding(kind: Kind, category: str, score: float, start: int, length: int, detector: str) -> Finding:
    return Finding(kind, category, score, ANSWER, start, start + length, Action.BLOCK, detector)


@dataclass(frozen=True)
class Release:
    """Text that is safe to send on, or the findings that stop the stream."""

    text: str
    findings: list[Finding] = field(default_factory=list)


class OutputStream:
    """Restores and screens a streamed answer, releasing text as soon as it is known to be safe.

    It holds back only a suffix that could be a split placeholder (see PlaceholderStream) or the start
    of the canary, and checks credentials over the last released characters plus the new text.
    """

    def __init__(self, mapping: Mapping[str, str], screen: OutputScreen) -> None:
        self._placeholders = PlaceholderStream(mapping)
        self._screen = screen
        self._pending = ""
        self._tail = ""
        self._released = 0

    def push(self, chunk: str) -> Release:
        self._pending += self._placeholders.push(chunk)
        return self._release(final=False)

    def finish(self) -> Release:
        self._pending += self._placeholders.finish()
        return self._release(final=True)

    def _release(self, final: bool) -> Release:
        findings = self._screen.findings(self._tail + self._pending, self._released - len(self._tail))
        if findings:
            return Release("", findings)
        keep = 0 if final else self._screen.canary_prefix_length(self._pending)
        cut = len(self._pending) - keep
        text, self._pending = self._pending[:cut], self._pending[cut:]
        self._tail = (self._tail + text)[-STREAM_WINDOW_CHARS:]
        self._released += len(text)
        return Release(text)
