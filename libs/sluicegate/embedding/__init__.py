"""Local sentence embeddings (all-MiniLM-L6-v2, int8 ONNX): no torch, no download, one model for every service."""

from sluicegate.embedding.embedder import EMBEDDING_DIMENSIONS, SentenceEmbedder
from sluicegate.embedding.model import MODEL_ID

__all__ = ["EMBEDDING_DIMENSIONS", "MODEL_ID", "SentenceEmbedder"]
