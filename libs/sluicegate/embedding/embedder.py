"""Turns sentences into L2-normalised 384-dimension vectors with the int8 MiniLM model on onnxruntime (model.py).

CPU work: callers on an event loop run `embed` in a thread or process pool (onnxruntime releases the GIL).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sluicegate.embedding.model import quantized_model_path

EMBEDDING_DIMENSIONS = 384
_TOKENIZER_PATH = Path(__file__).with_name("minilm-tokenizer.json")


class SentenceEmbedder:
    """Mean-pooled MiniLM sentence embeddings; cosine similarity is a dot product of two results."""

    def __init__(self, model_path: str | Path | None = None, max_tokens: int = 256, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        if model_path is None:
            model_path = quantized_model_path()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(_TOKENIZER_PATH))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.no_padding()  # the file pads to 128 tokens; a text runs alone at its own length

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), 384) float32 array of unit vectors; an empty input gives an empty array.

        Each text runs alone, at its own length, so a vector depends on its text only, whatever it was embedded
        beside (replicas and stored entries compare vectors; with quantized activations a batch can change them:
        the dynamically quantized model measured first gave a batched text a slightly different vector), and no
        text pays for another's padding.
        """
        if not texts:
            return np.zeros((0, EMBEDDING_DIMENSIONS), dtype=np.float32)
        return np.stack([self.embed_one(text) for text in texts])

    def embed_one(self, text: str) -> np.ndarray:
        (hidden,) = self.outputs(["last_hidden_state"], text)
        pooled = hidden[0].mean(axis=0)
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

    def outputs(self, names: Sequence[str], text: str) -> list[np.ndarray]:
        """The model's tensors `names` for one text, run alone: its token ids (truncated, unpadded), an all-ones
        mask, segment 0."""
        ids = np.array([self._tokenizer.encode(text).ids], dtype=np.int64)
        return self._session.run(
            list(names), {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        )
