"""The complexity classifier: the shipped weights load, confident answers win, unsure ones fall to the rules."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from sluicegate.common.v1 import chat_pb2
from sluicegate_router.classifier import KeywordClassifier
from sluicegate_router.complexity_model import (
    DEFAULT_MODEL_PATH,
    LABELS,
    ComplexityClassifier,
    EmbeddingClassifier,
    SoftmaxModel,
    load_embedding_classifier,
)


class AxisEmbedder:
    """Embeds every text as the same unit vector along the first axis."""

    def embed(self, texts):
        vectors = np.zeros((len(texts), 384), dtype=np.float32)
        vectors[:, 0] = 1.0
        return vectors


def model_preferring(label: str, strength: float, min_confidence: float) -> SoftmaxModel:
    weights = np.zeros((384, len(LABELS)), dtype=np.float32)
    weights[0, LABELS.index(label)] = strength
    return SoftmaxModel(weights, np.zeros(len(LABELS), dtype=np.float32), LABELS, min_confidence)


def test_the_shipped_weights_load_with_one_column_per_tier() -> None:
    model = SoftmaxModel.load(DEFAULT_MODEL_PATH)

    assert model.labels == LABELS
    assert model.weights.shape == (384, 4) and model.bias.shape == (4,)


async def test_a_confident_classifier_decides_and_an_unsure_one_leaves_it_to_the_rules() -> None:
    confident = EmbeddingClassifier(AxisEmbedder(), model_preferring("creative", 10.0, 0.5))
    unsure = EmbeddingClassifier(AxisEmbedder(), model_preferring("creative", 0.1, 0.5))

    decided = ComplexityClassifier(KeywordClassifier(), lambda: confident)
    undecided = ComplexityClassifier(KeywordClassifier(), lambda: unsure)
    # The models load in worker threads.
    for classifier in (decided, undecided):
        while not await classifier.ready():
            await asyncio.sleep(0.01)

    assert await decided.classify("Please debug this") == (chat_pb2.TASK_COMPLEXITY_CREATIVE, "classifier")
    assert await undecided.classify("Please debug this") == (chat_pb2.TASK_COMPLEXITY_COMPLEX, "rules")


async def test_without_a_learned_model_the_rules_classify() -> None:
    classifier = ComplexityClassifier(KeywordClassifier(), None)

    assert await classifier.ready()
    assert await classifier.classify("Brainstorm names") == (chat_pb2.TASK_COMPLEXITY_CREATIVE, "rules")


async def test_a_callers_embedding_is_classified_without_embedding_again_and_a_bad_one_is_ignored() -> None:
    class CountingEmbedder(AxisEmbedder):
        calls = 0

        def embed(self, texts):
            CountingEmbedder.calls += 1
            return super().embed(texts)

    classifier = ComplexityClassifier(
        KeywordClassifier(), lambda: EmbeddingClassifier(CountingEmbedder(), model_preferring("creative", 10.0, 0.5))
    )
    while not await classifier.ready():
        await asyncio.sleep(0.01)
    along_first_axis = np.zeros(384, dtype="<f4")
    along_first_axis[0] = 1.0

    decided = await classifier.classify("Please debug this", along_first_axis.tobytes())
    assert decided == (chat_pb2.TASK_COMPLEXITY_CREATIVE, "classifier") and CountingEmbedder.calls == 0
    # Wrong size, or not a unit vector (another model's output): the text is embedded here instead.
    for bad in (along_first_axis[:100].tobytes(), (along_first_axis * 3).tobytes(), b"junk"):
        await classifier.classify("Please debug this", bad)
    assert CountingEmbedder.calls == 3


def test_the_learned_classifier_reads_a_long_prompts_opening_only() -> None:
    classifier = load_embedding_classifier()
    opening = "Write a short poem about the sea at night, in the voice of a lighthouse keeper. " * 4
    long_prompt = opening + "Then list the tides of the last week with their heights and times. " * 40
    other_ending = opening + "Then summarise the harbour's fishing regulations for the coming season. " * 40

    started = time.perf_counter()
    vectors = classifier._embedder.embed([long_prompt, other_ending])
    seconds = time.perf_counter() - started

    np.testing.assert_array_equal(vectors[0], vectors[1])  # the same first 64 tokens, whatever follows
    assert classifier.classify(long_prompt) == classifier.classify(other_ending)
    assert seconds < 0.2  # two embeddings of 64 tokens (about 15 ms each here), not of 256 (about 60 ms each)
