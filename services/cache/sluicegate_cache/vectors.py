"""The in-process vector index of one tenant: per partition, L2-normalised float32 rows searched with numpy.

Redis has no vector search here, so each replica keeps the tenant's semantic records in memory and searches them
by brute force (one matrix-vector product per lookup). Large partitions first scan a random 96-dimension
projection and rescore the best candidates on the full vectors: it reads a quarter of the memory per lookup, and a
near duplicate (cosine above 0.8) stays far above the projection's noise (about 0.1), so it is never lost.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from sluicegate.embedding import EMBEDDING_DIMENSIONS
from sluicegate_cache.subject import PARTITION_BYTES

_HEADER = struct.Struct(f"<{PARTITION_BYTES}sq")
_VECTOR_BYTES = EMBEDDING_DIMENSIONS * 4
PROJECTED_DIMENSIONS = 96
PROJECTION_FROM_ROWS = 20_000
RESCORED_CANDIDATES = 64
_PROJECTION = np.linalg.qr(
    np.random.default_rng(20261129).standard_normal((EMBEDDING_DIMENSIONS, EMBEDDING_DIMENSIONS))
)[0][:, :PROJECTED_DIMENSIONS].astype(np.float32) * np.float32(np.sqrt(EMBEDDING_DIMENSIONS / PROJECTED_DIMENSIONS))


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
        self._projected: np.ndarray | None = None
        self._expiry = np.empty(capacity, dtype=np.int64)
        self._ids: list[str] = []
        self._questions: list[str] = []
        self._rows: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def put(self, entry_id: str, record: SemanticRecord) -> None:
        row = self._rows.get(entry_id)
        if row is None:
            row = len(self._ids)
            self._grow_to(row + 1)
            self._ids.append(entry_id)
            self._questions.append(record.question)
            self._rows[entry_id] = row
        else:
            self._questions[row] = record.question
        self._vectors[row] = record.vector
        self._expiry[row] = record.expires_at_ms
        if self._projected is not None:
            self._projected[row] = record.vector @ _PROJECTION
        elif len(self._ids) >= PROJECTION_FROM_ROWS:
            self._projected = np.empty((len(self._vectors), PROJECTED_DIMENSIONS), dtype=np.float32)
            self._projected[: len(self._ids)] = self._vectors[: len(self._ids)] @ _PROJECTION

    def remove(self, entry_id: str) -> None:
        """Drops a row by moving the last row into its place (order does not matter to a search)."""
        row = self._rows.pop(entry_id, None)
        if row is None:
            return
        last = len(self._ids) - 1
        if row != last:
            moved = self._ids[last]
            self._ids[row], self._questions[row] = moved, self._questions[last]
            self._vectors[row], self._expiry[row] = self._vectors[last], self._expiry[last]
            if self._projected is not None:
                self._projected[row] = self._projected[last]
            self._rows[moved] = row
        self._ids.pop()
        self._questions.pop()

    def expired(self, now_ms: int) -> list[str]:
        rows = np.nonzero(self._expiry[: len(self._ids)] <= now_ms)[0]
        return [self._ids[row] for row in rows]

    def search(self, vector: np.ndarray, threshold: float, now_ms: int, limit: int) -> list[Candidate]:
        """Up to `limit` live entries with cosine similarity >= threshold, most similar first."""
        count = len(self._ids)
        if count == 0:
            return []
        if self._projected is not None and count > RESCORED_CANDIDATES:
            approximate = self._projected[:count] @ (vector @ _PROJECTION)
            rows = np.argpartition(approximate, -RESCORED_CANDIDATES)[-RESCORED_CANDIDATES:]
            scores = self._vectors[rows] @ vector
        else:
            rows = np.arange(count)
            scores = self._vectors[:count] @ vector
        keep = (scores >= threshold) & (self._expiry[rows] > now_ms)
        rows, scores = rows[keep], scores[keep]
        best = np.argsort(-scores)[:limit]
        return [Candidate(self._ids[rows[i]], float(scores[i]), self._questions[rows[i]]) for i in best]

    def _grow_to(self, size: int) -> None:
        if size <= len(self._vectors):
            return
        capacity = max(size, len(self._vectors) + len(self._vectors) // 4)
        self._vectors = _resized(self._vectors, capacity)
        self._expiry = np.resize(self._expiry, capacity)
        if self._projected is not None:
            self._projected = _resized(self._projected, capacity)


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

    def search(
        self, partition: bytes, vector: np.ndarray, threshold: float, now_ms: int, limit: int
    ) -> list[Candidate]:
        index = self._partitions.get(partition)
        return index.search(vector, threshold, now_ms, limit) if index else []

    def forget_expired(self, now_ms: int) -> None:
        for index in list(self._partitions.values()):
            for entry_id in index.expired(now_ms):
                self.remove(entry_id)
