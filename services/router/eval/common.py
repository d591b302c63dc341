"""Shared by the classifier scripts: the labelled prompt set and its embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sluicegate.embedding.embedder import SentenceEmbedder
from sluicegate_router.complexity_model import LABELS

PROMPTS_PATH = Path(__file__).with_name("prompts.jsonl")


def load_split(split: str) -> tuple[list[str], np.ndarray]:
    """The prompts of one split ("train" or "test") and their label indices into LABELS."""
    rows = [json.loads(line) for line in PROMPTS_PATH.read_text().splitlines() if line.strip()]
    chosen = [row for row in rows if row["split"] == split]
    return [row["prompt"] for row in chosen], np.array([LABELS.index(row["label"]) for row in chosen])


def embed(prompts: list[str]) -> np.ndarray:
    embedder = SentenceEmbedder()
    return np.concatenate([embedder.embed(prompts[i : i + 32]) for i in range(0, len(prompts), 32)])
