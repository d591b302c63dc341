"""The derived embedding model: built once per directory, the same bytes every time, close to the published one."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sluicegate.embedding import SentenceEmbedder
from sluicegate.embedding.model import published_model_path, quantized_model_path

SENTENCES = [
    "How do I reset my password?",
    "Is aspirin safe for children?",
    "Summarize the quarterly report in three bullet points",
    "Write a poem about the sea",
]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_model_is_built_once_per_directory_and_the_build_is_deterministic(tmp_path: Path) -> None:
    first = quantized_model_path(tmp_path / "a")
    built = first.stat().st_mtime_ns
    assert quantized_model_path(tmp_path / "a") == first and first.stat().st_mtime_ns == built  # reused, not rebuilt
    assert _digest(quantized_model_path(tmp_path / "b")) == _digest(first)  # a replica built apart holds the same bytes
    assert [path.name for path in (tmp_path / "a").iterdir() if path.suffix == ".onnx"] == [first.name]


@pytest.fixture(scope="module")
def embedders() -> tuple[SentenceEmbedder, SentenceEmbedder]:
    return SentenceEmbedder(), SentenceEmbedder(model_path=published_model_path())


def test_derived_vectors_stay_close_to_the_published_models(embedders) -> None:
    derived, published = embedders
    cosines = (derived.embed(SENTENCES) * published.embed(SENTENCES)).sum(axis=1)
    assert cosines.min() > 0.995


def test_a_vector_depends_on_its_text_only(embedders) -> None:
    derived, _ = embedders
    alone = derived.embed_one(SENTENCES[1])
    assert np.array_equal(derived.embed(SENTENCES)[1], alone)
    assert np.array_equal(derived.embed([SENTENCES[1], "x " * 200])[0], alone)


def test_an_unwritable_model_directory_fails_with_a_message_naming_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(RuntimeError, match="SLUICEGATE_MODEL_DIR"):
        quantized_model_path(blocker / "models")


def test_the_fused_and_smoothed_graph_computes_what_the_exported_one_did(tmp_path: Path) -> None:
    """Before any quantization, the rewritten graph gives the float model's vectors: the attention fusion and the
    feed-forward smoothing change how the model runs, not what it computes."""
    import onnx

    from sluicegate.embedding.model import _feed_forward_maxima, _folded, _smoothed_feed_forward, fused_float_model

    folded = _folded(published_model_path(), tmp_path / "exported.onnx")
    rewritten_model = _smoothed_feed_forward(
        fused_float_model(published_model_path(), tmp_path), _feed_forward_maxima()
    )
    operators = Counter(node.op_type for node in rewritten_model.graph.node)
    assert operators["MultiHeadAttention"] == 6 and operators["Softmax"] == operators["Transpose"] == 0
    assert operators["Mul"] == 6  # one smoothing per product into a GELU
    rewritten = tmp_path / "rewritten.onnx"
    onnx.save(rewritten_model, rewritten)

    exported, rewritten_vectors = (
        SentenceEmbedder(folded).embed(SENTENCES),
        SentenceEmbedder(rewritten).embed(SENTENCES),
    )
    assert np.abs(exported - rewritten_vectors).max() < 1e-5


def test_the_committed_maxima_are_what_calibration_measures_on_the_caches_train_questions(tmp_path: Path) -> None:
    """A change to the fusion that moves what the feed-forward products see must come with a new calibration."""
    from sluicegate.embedding.calibrate import feed_forward_maxima, sentences
    from sluicegate.embedding.model import _feed_forward_maxima

    pairs = Path(__file__).parents[3] / "services" / "cache" / "eval" / "pairs.jsonl"
    measured, committed = feed_forward_maxima(sentences(pairs), tmp_path), _feed_forward_maxima()
    assert sorted(measured) == sorted(committed) and len(committed) == 6
    for name, maxima in committed.items():
        assert maxima.shape == (384,) and np.allclose(measured[name], maxima, rtol=1e-4, atol=1e-5)
