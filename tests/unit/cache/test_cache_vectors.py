"""The in-process vector index: exact below the signature size, signatures then exact rescoring above it, removals
and expiry honoured in both."""

from __future__ import annotations

import numpy as np
import pytest

from sluicegate.embedding import EMBEDDING_DIMENSIONS
from sluicegate_cache import vectors
from sluicegate_cache.vectors import PartitionIndex, SemanticRecord

SIGNATURES_FROM = 1000  # the real size scaled down, so a fast test searches through the signatures
LIVE, EXPIRED, NOW = 10_000, 10, 100


@pytest.fixture(autouse=True)
def small_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors, "SIGNATURES_FROM_ROWS", SIGNATURES_FROM)


def _units(rng: np.random.Generator, count: int) -> np.ndarray:
    rows = rng.standard_normal((count, EMBEDDING_DIMENSIONS)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _near(vector: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """A neighbour of `vector`: cosine about 1 / sqrt(1 + noise^2)."""
    near = vector + noise * _units(rng, 1)[0]
    return near / np.linalg.norm(near)


def _filled(rows: np.ndarray, expiry: dict[int, int] | None = None) -> PartitionIndex:
    index = PartitionIndex()
    for number, vector in enumerate(rows):
        index.put(f"e{number}", SemanticRecord(b"p" * 16, (expiry or {}).get(number, LIVE), vector, f"q{number}"))
    return index


@pytest.mark.parametrize("rows", [10, SIGNATURES_FROM + 10])
def test_the_index_finds_the_nearest_live_row_after_removals(rows):
    rng = np.random.default_rng(1)
    stored = _units(rng, rows)
    index = _filled(stored, expiry={3: EXPIRED})
    index.remove("e0")
    index.remove("e1")

    found = index.search(_near(stored[5], rng, noise=0.2), threshold=0.5, now_ms=NOW, limit=3)

    assert [candidate.entry_id for candidate in found] == ["e5"]
    assert found[0].question == "q5" and found[0].similarity > 0.9
    assert index.search(stored[0], threshold=0.5, now_ms=NOW, limit=3) == []  # removed
    assert index.search(stored[3], threshold=0.5, now_ms=NOW, limit=3) == []  # expired
    assert len(index) == rows - 2


def test_every_near_duplicate_of_a_large_partition_is_found():
    rng = np.random.default_rng(2)
    stored = _units(rng, 3 * SIGNATURES_FROM)
    index = _filled(stored)

    asked = range(0, len(stored), 29)
    # Cosine about 0.86, the default floor: the signatures must keep these despite their noise.
    best = [index.search(_near(stored[number], rng, noise=0.6), 0.8, NOW, limit=1) for number in asked]

    assert [found[0].entry_id if found else None for found in best] == [f"e{number}" for number in asked]


def test_the_nearest_row_is_found_among_a_crowd_of_close_rows(monkeypatch):
    monkeypatch.setattr(vectors, "RESCORED_CANDIDATES", 64)
    rng = np.random.default_rng(3)
    asked = _units(rng, 1)[0]
    crowd = np.stack([_near(asked, rng, noise=1.0) for _ in range(2 * SIGNATURES_FROM)])  # cosine about 0.7
    index = _filled(np.concatenate([crowd, _near(asked, rng, noise=0.3)[None]]))

    found = index.search(asked, 0.6, NOW, limit=3)

    assert found[0].entry_id == f"e{len(crowd)}" and found[0].similarity > 0.9
    assert len(found) == 3 and all(candidate.similarity >= 0.6 for candidate in found)


def test_semantic_records_round_trip():
    vector = _units(np.random.default_rng(2), 1)[0]
    record = SemanticRecord(b"\x01" * 16, 1_234_567, vector, "Qu'est-ce que c'est ?")
    decoded = SemanticRecord.decode(record.encode())
    assert (decoded.partition, decoded.expires_at_ms, decoded.question) == (b"\x01" * 16, 1_234_567, record.question)
    assert np.array_equal(decoded.vector, vector)
