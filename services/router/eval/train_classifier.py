"""Trains the router's complexity classifier on the train half of prompts.jsonl and writes the package's artifact.

Multinomial logistic regression over the shared MiniLM embeddings. The L2 strength and the confidence below which
the keyword rules decide instead are chosen by 5-fold cross-validation on the train half only (the test half is
for evaluate_classifier.py).

    .venv/bin/python services/router/eval/train_classifier.py
"""

from __future__ import annotations

import sys

import numpy as np
from common import embed, load_split

from sluicegate_router.classifier import KeywordClassifier
from sluicegate_router.complexity_model import COMPLEXITY_OF_LABEL, DEFAULT_MODEL_PATH, LABELS, SoftmaxModel

L2_CHOICES = (1e-4, 1e-3, 1e-2)
CONFIDENCE_CHOICES = (0.0, 0.3, 0.4, 0.5)
FOLDS = 5
STEPS = 1500
LEARNING_RATE = 2.0


def fit(vectors: np.ndarray, labels: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Full-batch gradient descent on the mean cross-entropy plus l2 * |W|^2 (deterministic: zero start)."""
    classes = len(LABELS)
    weights = np.zeros((vectors.shape[1], classes))
    bias = np.zeros(classes)
    targets = np.eye(classes)[labels]
    for _ in range(STEPS):
        logits = vectors @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        error = (probabilities - targets) / len(vectors)
        weights -= LEARNING_RATE * (vectors.T @ error + 2 * l2 * weights)
        bias -= LEARNING_RATE * error.sum(axis=0)
    return weights, bias


def combined_accuracy(model: SoftmaxModel, vectors: np.ndarray, labels: np.ndarray, rule_labels: np.ndarray) -> float:
    probabilities = model.probabilities(vectors)
    confident = probabilities.max(axis=1) >= model.min_confidence
    predicted = np.where(confident, probabilities.argmax(axis=1), rule_labels)
    return float((predicted == labels).mean())


def main() -> None:
    prompts, labels = load_split("train")
    vectors = embed(prompts)
    rules = KeywordClassifier()
    label_of = {complexity: index for index, complexity in enumerate(COMPLEXITY_OF_LABEL.values())}
    rule_labels = np.array([label_of[rules.classify(prompt)] for prompt in prompts])
    folds = np.arange(len(prompts)) % FOLDS
    best: tuple[float, float, float] = (-1.0, 0.0, 0.0)
    for l2 in L2_CHOICES:
        for confidence in CONFIDENCE_CHOICES:
            scores = []
            for fold in range(FOLDS):
                train, held = folds != fold, folds == fold
                weights, bias = fit(vectors[train], labels[train], l2)
                model = SoftmaxModel(weights, bias, LABELS, confidence)
                scores.append(combined_accuracy(model, vectors[held], labels[held], rule_labels[held]))
            score = float(np.mean(scores))
            sys.stdout.write(f"l2={l2:g} min_confidence={confidence:.1f}: cross-validated accuracy {score:.3f}\n")
            if score > best[0]:
                best = (score, l2, confidence)
    score, l2, confidence = best
    weights, bias = fit(vectors, labels, l2)
    SoftmaxModel(weights, bias, LABELS, confidence).save(DEFAULT_MODEL_PATH)
    sys.stdout.write(
        f"chose l2={l2:g} min_confidence={confidence:.1f} (cross-validated {score:.3f}); "
        f"trained on {len(prompts)} prompts; wrote {DEFAULT_MODEL_PATH}\n"
    )


if __name__ == "__main__":
    main()
