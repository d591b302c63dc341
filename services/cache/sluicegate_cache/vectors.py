"""The in-process vector index of one tenant: per partition, L2-normalised float32 rows searched with numpy.

Redis has no vector search here, so each replica keeps the tenant's semantic records in memory, in contiguous
preallocated matrices. A partition below `SIGNATURES_FROM_ROWS` rows is searched exactly (one matrix-vector
product). A larger one also keeps a 128-bit signature per row (the signs of 128 fixed random projections; two
vectors at angle t differ in each bit with probability t / pi) and a search first counts differing bits over
the signatures - 16 bytes a row instead of 1,536 - keeping the rows no further than a near duplicate at the
threshold would be, plus `SIGNATURE_SIGMAS` standard deviations (the closest `RESCORED_CANDIDATES` when more),
then rescores those on the full vectors. A near duplicate is rarely lost (and then the lookup is a miss, never a
wrong answer); the hyperplanes are the same on every replica and need no training, so two replicas holding the
same rows find the same candidates.

Each partition also counts its questions' match keys (gate.py: negation count and numbers, which the
correctness gate requires two questions to share) and the words with digits they mention (an identifier one
question names, the other must mention), so a lookup knows without embedding when no row can match.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sluicegate.embedding import EMBEDDING_DIMENSIONS
from sluicegate_cache.gate import index_keys, may_mention
from sluicegate_cache.subject import PARTITION_BYTES

_HEADER = struct.Struct(f"<{PARTITION_BYTES}sq")
_VECTOR_BYTES = EMBEDDING_DIMENSIONS * 4
# From about a thousand rows the signatures cost less than the exact product, the more so with the matrix out of the
# CPU's caches, as it is between requests (3k rows: 0.08 ms against 0.21; 10k: 0.09 against 0.59).
SIGNATURES_FROM_ROWS = 1_024
SIGNATURE_BITS = 128
SIGNATURE_SIGMAS = 4.0
RESCORED_CANDIDATES = 1024
_HYPERPLANES = (
    np.random.default_rng(20261129).standard_normal((EMBEDDING_DIMENSIONS, SIGNATURE_BITS)).astype(np.float32)
)
_WORDS = SIGNATURE_BITS // 64


def _signatures_of(vectors: np.ndarray) -> np.ndarray:
    """The rows' signatures as (64-bit word, row): one bit per hyperplane, set on its positive side."""
    packed = np.packbits(vectors @ _HYPERPLANES > 0, axis=1)
    return packed.view("<u8").T


def _max_distance(threshold: float) -> int:
    """How many bits may differ between the question's signature and a row still worth rescoring: the mean
    for a row exactly at the threshold plus `SIGNATURE_SIGMAS` standard deviations (rows above it differ less)."""
    flip = math.acos(min(max(threshold, -1.0), 1.0)) / math.pi
    return int(SIGNATURE_BITS * flip + SIGNATURE_SIGMAS * math.sqrt(SIGNATURE_BITS * flip * (1 - flip)))


@dataclass(frozen=True)
class SemanticRecord:
    """What Redis holds for an entry's semantic side: its partition, expiry, vector and question text."""

    partition: bytes
    expires_at_ms: int
    vector: np.ndarray
    question: str

    def encode(self) -> bytes:
        return (
            _HEADER.pack(self.partition, self.expires_at_ms)
            + self.vector.astype("<f4").tobytes()
            + (self.question.encode())
        )

    @classmethod
    def decode(cls, data: bytes) -> SemanticRecord:
        partition, expires_at_ms = _HEADER.unpack_from(data)
        start = _HEADER.size
        vector = np.frombuffer(data, dtype="<f4", count=EMBEDDING_DIMENSIONS, offset=start).astype(np.float32)
        question = data[start + _VECTOR_BYTES :].decode()
        return cls(partition, expires_at_ms, vector, question)


@dataclass(frozen=True)
class Candidate:
    """An entry whose question is near the asked one."""

    entry_id: str
    similarity: float
    question: str


class PartitionIndex:
    """The rows of one partition: vectors, expiries, entry ids and question texts, kept dense for numpy."""

    def __init__(self, capacity: int = 64) -> None:
        self._vectors = np.empty((capacity, EMBEDDING_DIMENSIONS), dtype=np.float32)
        self._signatures: np.ndarray | None = None
        self._expiry = np.empty(capacity, dtype=np.int64)
        self._ids: list[str] = []
        self._questions: list[str] = []
        self._rows: dict[str, int] = {}
        self._match_keys: Counter = Counter()
        self._identifier_forms: Counter = Counter()

    def __len__(self) -> int:
        return len(self._ids)

    def may_match(self, key: tuple, identifiers: tuple[str, ...] = ()) -> bool:
        """Whether a row's question has this match key (gate.match_key) and some row's mentions each of
        `identifiers` (gate.identifiers): otherwise no row can match. (Both may hold without one row doing both:
        then the question is embedded for nothing, never refused a match.)"""
        return self._match_keys[key] > 0 and all(
            may_mention(identifier, self._identifier_forms) for identifier in identifiers
        )

    def put(self, entry_id: str, record: SemanticRecord) -> None:
        row = self._rows.get(entry_id)
        if row is None:
            row = len(self._ids)
            self._grow_to(row + 1)
            self._ids.append(entry_id)
            self._questions.append(record.question)
            self._rows[entry_id] = row
        else:
            self._forget_key(self._questions[row])
            self._questions[row] = record.question
        key, forms = index_keys(record.question)
        self._match_keys[key] += 1
        self._identifier_forms.update(forms)
        self._vectors[row] = record.vector
        self._expiry[row] = record.expires_at_ms
        if self._signatures is not None:
            self._signatures[:, row] = _signatures_of(record.vector[None])[:, 0]
        elif len(self._ids) >= SIGNATURES_FROM_ROWS:
            self._signatures = np.empty((_WORDS, len(self._vectors)), dtype=np.uint64)
            self._signatures[:, : len(self._ids)] = _signatures_of(self._vectors[: len(self._ids)])

    def remove(self, entry_id: str) -> None:
        """Drops a row by moving the last row into its place (order does not matter to a search)."""
        row = self._rows.pop(entry_id, None)
        if row is None:
            return
        self._forget_key(self._questions[row])
        last = len(self._ids) - 1
        if row != last:
            moved = self._ids[last]
            self._ids[row], self._questions[row] = moved, self._questions[last]
            self._vectors[row], self._expiry[row] = self._vectors[last], self._expiry[last]
            if self._signatures is not None:
                self._signatures[:, row] = self._signatures[:, last]
            self._rows[moved] = row
        self._ids.pop()
        self._questions.pop()

    def _forget_key(self, question: str) -> None:
        key, forms = index_keys(question)
        _uncount(self._match_keys, [key])
        _uncount(self._identifier_forms, forms)

    def expired(self, now_ms: int) -> list[str]:
        rows = np.nonzero(self._expiry[: len(self._ids)] <= now_ms)[0]
        return [self._ids[row] for row in rows]

    def search(self, vector: np.ndarray, threshold: float, now_ms: int, limit: int) -> list[Candidate]:
        """Up to `limit` live entries with cosine similarity >= threshold, most similar first."""
        count = len(self._ids)
        if self._signatures is not None:
            asked = _signatures_of(vector[None])[:, 0]
            distance = np.bitwise_count(self._signatures[0, :count] ^ asked[0])
            for word in range(1, _WORDS):
                distance += np.bitwise_count(self._signatures[word, :count] ^ asked[word])
            rows = np.flatnonzero(distance <= _max_distance(threshold))
            if len(rows) > RESCORED_CANDIDATES:
                rows = rows[np.argpartition(distance[rows], RESCORED_CANDIDATES)[:RESCORED_CANDIDATES]]
            scores = self._vectors[rows] @ vector
        else:
            rows = np.arange(count)
            scores = self._vectors[:count] @ vector
        keep = (scores >= threshold) & (self._expiry[rows] > now_ms)
        rows, scores = rows[keep], scores[keep]
        # Only the best `limit` are sorted: a crowd of near duplicates can put thousands of rows over the threshold.
        best = np.argpartition(-scores, limit)[:limit] if len(scores) > limit else np.arange(len(scores))
        best = best[np.argsort(-scores[best])]
        return [Candidate(self._ids[rows[i]], float(scores[i]), self._questions[rows[i]]) for i in best]

    def _grow_to(self, size: int) -> None:
        if size <= len(self._vectors):
            return
        capacity = max(size, len(self._vectors) + len(self._vectors) // 4)
        self._vectors = _resized(self._vectors, capacity)
        self._expiry = np.resize(self._expiry, capacity)
        if self._signatures is not None:
            grown = np.empty((_WORDS, capacity), dtype=np.uint64)
            grown[:, : len(self._ids)] = self._signatures[:, : len(self._ids)]
            self._signatures = grown


def _uncount(counter: Counter, items: Iterable) -> None:
    for item in items:
        counter[item] -= 1
        if not counter[item]:
            del counter[item]


def _resized(matrix: np.ndarray, rows: int) -> np.ndarray:
    grown = np.empty((rows, matrix.shape[1]), dtype=matrix.dtype)
    grown[: len(matrix)] = matrix
    return grown


class TenantIndex:
    """Every partition of one tenant, and which partition each entry is in."""

    def __init__(self) -> None:
        self._partitions: dict[bytes, PartitionIndex] = {}
        self._partition_of: dict[str, bytes] = {}

    def __len__(self) -> int:
        return len(self._partition_of)

    def put(self, entry_id: str, record: SemanticRecord) -> None:
        self.remove(entry_id)
        self._partitions.setdefault(record.partition, PartitionIndex()).put(entry_id, record)
        self._partition_of[entry_id] = record.partition

    def remove(self, entry_id: str) -> None:
        partition = self._partition_of.pop(entry_id, None)
        if partition is None:
            return
        index = self._partitions[partition]
        index.remove(entry_id)
        if not len(index):
            del self._partitions[partition]

    def has_partition(self, partition: bytes) -> bool:
        return partition in self._partitions

    def holds(self, entry_id: str) -> bool:
        return entry_id in self._partition_of

    def may_match(self, partition: bytes, key: tuple, identifiers: tuple[str, ...] = ()) -> bool:
        """Whether a question of the partition may match one with this match key and these identifiers."""
        index = self._partitions.get(partition)
        return index is not None and index.may_match(key, identifiers)

    def search(
        self, partition: bytes, vector: np.ndarray, threshold: float, now_ms: int, limit: int
    ) -> list[Candidate]:
        index = self._partitions.get(partition)
        return index.search(vector, threshold, now_ms, limit) if index else []

    def forget_expired(self, now_ms: int) -> None:
        for index in list(self._partitions.values()):
            for entry_id in index.expired(now_ms):
                self.remove(entry_id)
