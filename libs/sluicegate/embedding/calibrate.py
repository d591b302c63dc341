"""Writes `feed-forward-maxima.npz`: the largest activation seen on each input channel of each feed-forward product
into the GELU, in the fused float model (`model.py` smooths those inputs with them before quantizing).

    .venv/bin/python -m sluicegate.embedding.calibrate services/cache/eval/pairs.jsonl

The sentences are the questions of the cache's labelled pairs, train half only (the test half judges the model).
Run it again only when the recipe changes what the products see (a unit test compares the two).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from sluicegate.embedding.embedder import SentenceEmbedder
from sluicegate.embedding.model import (
    FEED_FORWARD_MAXIMA_PATH,
    fused_float_model,
    published_model_path,
    smoothed_products,
)

# The committed maxima were measured on the train half of the cache's groups 0-100; groups added since (101 on:
# word order, signs, operators) only evaluate, so that adding a labelled pair never silently moves the model.
CALIBRATION_GROUPS = range(101)


def sentences(pairs: Path) -> list[str]:
    """Both questions of every train-half row of the calibration groups of a labelled pairs file, each once."""
    rows = [json.loads(line) for line in pairs.read_text().splitlines() if line.strip()]
    return list(
        dict.fromkeys(
            text
            for row in rows
            if row["split"] == "train" and row["group"] in CALIBRATION_GROUPS
            for text in (row["a"], row["b"])
        )
    )


def feed_forward_maxima(texts: list[str], scratch: Path) -> dict[str, np.ndarray]:
    import onnx

    model = fused_float_model(published_model_path(), scratch)
    products = smoothed_products(model)
    for product in products:
        model.graph.output.append(onnx.helper.make_tensor_value_info(product.input[0], onnx.TensorProto.FLOAT, None))
    exposed = scratch / "exposed.onnx"
    onnx.save(model, exposed)
    embedder = SentenceEmbedder(exposed)
    inputs = [product.input[0] for product in products]
    maxima: dict[str, np.ndarray] = {}
    for text in texts:
        for product, activations in zip(products, embedder.outputs(inputs, text), strict=True):
            seen = np.abs(activations.reshape(-1, activations.shape[-1])).max(axis=0)
            previous = maxima.get(product.name)
            maxima[product.name] = seen if previous is None else np.maximum(previous, seen)
    return maxima


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sluicegate.embedding.calibrate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("sentences", type=Path, help="the cache's labelled pairs (.jsonl); its train half is used")
    args = parser.parse_args(argv)
    texts = sentences(args.sentences)
    with tempfile.TemporaryDirectory() as scratch:
        maxima = feed_forward_maxima(texts, Path(scratch))
    np.savez(FEED_FORWARD_MAXIMA_PATH, **maxima)
    print(f"{len(texts)} sentences; wrote {len(maxima)} products' maxima to {FEED_FORWARD_MAXIMA_PATH}")


if __name__ == "__main__":
    main()
