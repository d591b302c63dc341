"""The learned complexity classifier: logistic regression over shared MiniLM sentence embeddings, with the keyword
rules as the fallback when it is not loaded yet or not confident."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from sluicegate.common.v1 import chat_pb2
from sluicegate.embedding import EMBEDDING_DIMENSIONS
from sluicegate_router.background import BackgroundLoad
from sluicegate_router.classifier import KeywordClassifier

# Written by services/router/eval/train_classifier.py; shipped inside the package.
DEFAULT_MODEL_PATH = Path(__file__).with_name("complexity_model.npz")
# The classifier reads a prompt's first 64 tokens: the embedding's time grows with the text (alone here, 13 ms
# for 52 tokens, 47 for 202) and is on an auto-routed request's path. Every labelled prompt it was trained and
# checked on is shorter (at most 34 words), and a prompt's opening states its task.
CLASSIFIED_TOKENS = 64

LABELS = ("simple", "medium", "complex", "creative")
COMPLEXITY_OF_LABEL = {
    "simple": chat_pb2.TASK_COMPLEXITY_SIMPLE,
    "medium": chat_pb2.TASK_COMPLEXITY_MEDIUM,
    "complex": chat_pb2.TASK_COMPLEXITY_COMPLEX,
    "creative": chat_pb2.TASK_COMPLEXITY_CREATIVE,
}


class Embedder(Protocol):
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class SoftmaxModel:
    """Multinomial logistic regression: probabilities = softmax(x @ weights + bias)."""

    weights: np.ndarray
    bias: np.ndarray
    labels: tuple[str, ...]
    min_confidence: float

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        np.savez(
            path,
            weights=self.weights.astype(np.float32),
            bias=self.bias.astype(np.float32),
            labels=np.array(self.labels),
            min_confidence=np.float32(self.min_confidence),
        )

    @classmethod
    def load(cls, path: Path) -> SoftmaxModel:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                weights=data["weights"],
                bias=data["bias"],
                labels=tuple(str(label) for label in data["labels"]),
                min_confidence=float(data["min_confidence"]),
            )


class EmbeddingClassifier:
    """Puts a prompt in a tier from its embedding; None when the model is less sure than `min_confidence`."""

    def __init__(self, embedder: Embedder, model: SoftmaxModel) -> None:
        self._embedder = embedder
        self._model = model

    def classify(self, text: str) -> int | None:
        """CPU work (an embedding, ~5 ms): call it off the event loop."""
        return self.classify_embedding(self._embedder.embed([text])[0])

    def classify_embedding(self, embedding: np.ndarray) -> int | None:
        """The tier of an already embedded prompt (a few microseconds)."""
        probabilities = self._model.probabilities(embedding[np.newaxis, :])[0]
        best = int(probabilities.argmax())
        if probabilities[best] < self._model.min_confidence:
            return None
        return COMPLEXITY_OF_LABEL[self._model.labels[best]]


def load_embedding_classifier(path: Path = DEFAULT_MODEL_PATH) -> EmbeddingClassifier:
    """Loads the shared sentence embedder (about 0.7 s) and the trained weights; run it in a worker thread."""
    from sluicegate.embedding.embedder import SentenceEmbedder

    return EmbeddingClassifier(SentenceEmbedder(max_tokens=CLASSIFIED_TOKENS), SoftmaxModel.load(path))


def usable_embedding(embedding: bytes) -> np.ndarray | None:
    """A caller's embedding as a vector, or None unless it is 384 float32s of unit length (anything else, say
    from another model, would classify as noise: the text is embedded here instead)."""
    if len(embedding) != EMBEDDING_DIMENSIONS * 4:
        return None
    vector = np.frombuffer(embedding, dtype="<f4")
    if not np.isfinite(vector).all() or abs(float(vector @ vector) - 1.0) > 1e-3:
        return None
    return vector


class ComplexityClassifier:
    """The router's classifier: the learned one once loaded and confident ("classifier"), else the keyword rules
    ("rules"). The learned one loads in a worker thread at start-up; readiness waits for it."""

    def __init__(self, rules: KeywordClassifier, load: Callable[[], EmbeddingClassifier] | None) -> None:
        self._rules = rules
        self._learned = BackgroundLoad("the complexity classifier", load)

    async def ready(self) -> bool:
        return await self._learned.ready()

    async def classify(self, text: str, embedding: bytes = b"") -> tuple[int, str]:
        """`embedding` is the text's embedding when the caller has it (see `usable_embedding`)."""
        learned = self._learned.value()
        if learned is not None:
            vector = usable_embedding(embedding)
            if vector is not None:
                complexity = learned.classify_embedding(vector)
            else:
                complexity = await asyncio.to_thread(learned.classify, text)
            if complexity is not None:
                return complexity, "classifier"
        return self._rules.classify(text), "rules"

    async def aclose(self) -> None:
        await self._learned.aclose()
