"""The guard's findings and verdicts as plain values (the servicer turns them into protos)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    INJECTION = "injection"
    PII = "pii"
    SECRET = "secret"
    CANARY_LEAK = "canary_leak"


class Action(StrEnum):
    ALLOW = "allow"
    SANITIZE = "sanitize"
    BLOCK = "block"
    NOT_SCANNED = "not_scanned"  # the scan failed and the tenant chose fail-open


# The message index of a finding in an answer rather than in a prompt message.
ANSWER = -1


@dataclass(frozen=True)
class Finding:
    """One thing found: where it is and what was done about it, never the matched text."""

    kind: Kind
    category: str
    score: float
    message_index: int
    start: int
    end: int
    action: Action
    detector: str


@dataclass(frozen=True)
class Verdict:
    action: Action
    findings: list[Finding] = field(default_factory=list)
    injection_score: float = 0.0
    duration_ms: float = 0.0


@dataclass(frozen=True)
class InputInspection:
    """The verdict on a prompt; `sanitized` has each message's texts (empty when blocked)."""

    verdict: Verdict
    sanitized: list[list[str]] = field(default_factory=list)
    restore_handle: str = ""


@dataclass(frozen=True)
class OutputInspection:
    """The verdict on a whole answer and its restored text (empty when blocked)."""

    verdict: Verdict
    text: str = ""


@dataclass(frozen=True)
class StreamPiece:
    """Restored, scanned text released to the client; the last piece carries the verdict."""

    text: str
    verdict: Verdict | None = None
