"""What the cache's operations return: plain values the servicer turns into protos."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cached_property

from sluicegate.cache.v1 import cache_pb2
from sluicegate.common.v1 import chat_pb2
from sluicegate_cache.gate import identifiers, match_key
from sluicegate_cache.subject import Subject, subject_of


class Outcome(enum.Enum):
    """How a lookup ended."""

    MISS = "miss"
    HIT_EXACT = "hit_exact"
    HIT_SEMANTIC = "hit_semantic"
    SKIPPED = "skipped"


@dataclass
class CacheQuery:
    """A lookup, resolved: whose partition, which namespace, the exact entry id, and the request itself
    (a semantic layer reads the messages and the control's thresholds)."""

    tenant_id: str
    namespace: str
    entry_id: str
    key: cache_pb2.CacheKey
    control: chat_pb2.CacheControl
    # The caller uses the question's embedding on a miss: the semantic layer computes it even when no stored
    # question can match.
    embedding_wanted: bool = False
    # The tenant's change sequence number as the exact layer read it, in the same round trip as the entry (None
    # until then): the semantic layer's index is brought at least that far without reading it again.
    tenant_sequence: int | None = None

    @cached_property
    def subject(self) -> Subject | None:
        """The question the semantic layer compares and its partition (None when it has none), worked out once."""
        return subject_of(self.key, self.namespace)

    @cached_property
    def match_key(self) -> tuple:
        """The question's match key (gate.match_key); only for a query with a subject."""
        return match_key(self.subject.question)

    @cached_property
    def identifiers(self) -> tuple[str, ...]:
        """The question's names with digits in them (gate.identifiers); only for a query with a subject."""
        return identifiers(self.subject.question)


@dataclass(frozen=True)
class LookupResult:
    """A lookup's outcome and, on a hit, the entry served."""

    outcome: Outcome
    entry_id: str = ""
    answer: cache_pb2.CachedAnswer | None = None
    age_seconds: int = 0
    similarity: float = 0.0
    # A semantic miss's embedding of the question (float32 bytes), for the caller to reuse.
    question_embedding: bytes = b""


@dataclass(frozen=True)
class StoreResult:
    """Whether an answer was stored, and why not when it was not."""

    stored: bool
    entry_id: str = ""
    skipped_reason: str = ""
    evicted: int = 0


@dataclass(frozen=True)
class CacheStats:
    """A tenant's counters and current size."""

    exact_hits: int
    semantic_hits: int
    misses: int
    entries: int
    bytes: int
    semantic_similarity_sum: float = 0.0

    @property
    def mean_semantic_similarity(self) -> float:
        """The mean cosine similarity of the semantic hits; 0 before the first."""
        return self.semantic_similarity_sum / self.semantic_hits if self.semantic_hits else 0.0

    @property
    def hit_rate(self) -> float:
        """Hits over lookups (skipped lookups are not lookups); 0 before the first lookup."""
        lookups = self.exact_hits + self.semantic_hits + self.misses
        return (self.exact_hits + self.semantic_hits) / lookups if lookups else 0.0
