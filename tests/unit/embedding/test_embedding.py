"""The shared sentence embedder: unit vectors where paraphrases score high and unrelated sentences near zero."""

from __future__ import annotations

import numpy as np
import pytest

from sluicegate.embedding import EMBEDDING_DIMENSIONS, SentenceEmbedder


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


def test_vectors_are_unit_length(embedder: SentenceEmbedder) -> None:
    vectors = embedder.embed(["short", "a much longer sentence about gateways and caches " * 5])
    assert vectors.shape == (2, EMBEDDING_DIMENSIONS) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_paraphrases_score_far_above_unrelated_sentences(embedder: SentenceEmbedder) -> None:
    question, paraphrase, unrelated = embedder.embed(
        ["How do I reset my password?", "What is the way to change my password?", "The weather is sunny in Paris"]
    )
    assert question @ paraphrase > 0.7
    assert abs(question @ unrelated) < 0.2


def test_batch_and_single_agree_and_empty_input_is_empty(embedder: SentenceEmbedder) -> None:
    batch = embedder.embed(["first sentence", "a second, longer sentence"])
    assert np.allclose(batch[1], embedder.embed_one("a second, longer sentence"), atol=1e-4)
    assert embedder.embed([]).shape == (0, EMBEDDING_DIMENSIONS)
