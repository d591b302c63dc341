"""Credential patterns (API keys, tokens, private keys), shared by the input recognizers and the output scan."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class CredentialPattern:
    """One kind of credential and the case-sensitive regex that finds it."""

    entity_type: str
    regex: str
    score: float


CREDENTIAL_PATTERNS = (
    CredentialPattern("AWS_ACCESS_KEY", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0.95),
    CredentialPattern("OPENAI_API_KEY", r"\bsk-(?:[A-Za-z0-9]+-)?[A-Za-z0-9_-]{20,}", 0.9),
    CredentialPattern("GITHUB_TOKEN", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b", 0.95),
    CredentialPattern("JWT", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", 0.9),
    # The header alone is enough to flag a key (a stream may not have reached the END line yet);
    # when the END line is there the match covers the whole block, so all of it is replaced.
    CredentialPattern(
        "PRIVATE_KEY",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----)?",
        1.0,
    ),
)


@dataclass(frozen=True)
class CredentialMatch:
    entity_type: str
    start: int
    end: int
    score: float


class CredentialDetector:
    """Finds credentials in text with plain regexes: cheap enough for answers and stream windows."""

    def __init__(self, patterns: Iterable[CredentialPattern] = CREDENTIAL_PATTERNS) -> None:
        self._patterns = [(pattern, re.compile(pattern.regex)) for pattern in patterns]

    def find(self, text: str) -> Iterator[CredentialMatch]:
        for pattern, compiled in self._patterns:
            for match in compiled.finditer(text):
                yield CredentialMatch(pattern.entity_type, match.start(), match.end(), pattern.score)
