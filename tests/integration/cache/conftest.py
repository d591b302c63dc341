"""Fixtures for the cache's integration tests: the embedding model, loaded once and shared by every server."""

from __future__ import annotations

import pytest

from sluicegate.embedding import SentenceEmbedder


@pytest.fixture(scope="session")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()
