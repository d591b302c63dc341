"""Accuracy and confusion matrices on the test half of prompts.jsonl: the keyword rules, the learned classifier
alone, and the router's combination (the classifier when confident, else the rules).

    .venv/bin/python services/router/eval/evaluate_classifier.py
"""

from __future__ import annotations

import sys

import numpy as np
from common import embed, load_split

from sluicegate_router.classifier import KeywordClassifier
from sluicegate_router.complexity_model import COMPLEXITY_OF_LABEL, DEFAULT_MODEL_PATH, LABELS, SoftmaxModel


def report(name: str, labels: np.ndarray, predicted: np.ndarray) -> None:
    matrix = np.zeros((len(LABELS), len(LABELS)), dtype=int)
    for truth, guess in zip(labels, predicted, strict=True):
        matrix[truth, guess] += 1
    accuracy = float((labels == predicted).mean())
    lines = [f"\n{name}: accuracy {accuracy:.3f} ({int((labels == predicted).sum())}/{len(labels)})"]
    lines.append(f"{'true/predicted':<18}" + "".join(f"{label:>10}" for label in LABELS))
    lines += [
        f"{label:<18}" + "".join(f"{count:>10}" for count in row) for label, row in zip(LABELS, matrix, strict=True)
    ]
    sys.stdout.write("\n".join(lines) + "\n")


def main() -> None:
    prompts, labels = load_split("test")
    rules = KeywordClassifier()
    label_of = {complexity: index for index, complexity in enumerate(COMPLEXITY_OF_LABEL.values())}
    rule_labels = np.array([label_of[rules.classify(prompt)] for prompt in prompts])
    model = SoftmaxModel.load(DEFAULT_MODEL_PATH)
    probabilities = model.probabilities(embed(prompts))
    learned = probabilities.argmax(axis=1)
    combined = np.where(probabilities.max(axis=1) >= model.min_confidence, learned, rule_labels)
    sys.stdout.write(f"test half: {len(prompts)} prompts; min_confidence {model.min_confidence:.2f}\n")
    report("keyword rules", labels, rule_labels)
    report("embedding classifier", labels, learned)
    report("router (classifier when confident, else rules)", labels, combined)


if __name__ == "__main__":
    main()
