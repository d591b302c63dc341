"""The entity recognizer's token-to-vector layer, run as a few numpy products instead of thinc's layer graph.

The small English model's `ner` embeds tokens with its own tok2vec: four hashed embeddings of each token's
NORM, PREFIX, SUFFIX and SHAPE, a maxout and a layer norm, four residual blocks that each see a token with its
neighbours (maxout over [previous, token, next], layer norm), then a linear projection to the parser's width.
thinc runs it as about 30 layer calls, each with its closure for training, and reduces every maxout over a
trailing axis of 3 pieces, which costs more than the products: 0.84 ms for a 12-token question. The same
arithmetic written out (pieces laid side by side, so the maxout is two elementwise maxima) takes 0.45 ms, with
the same weights, and its vectors differ from thinc's by at most 3e-6.

`install_fast_tok2vec` checks that the model is built that way and replaces its inference only: training (the
guard never trains) keeps thinc's forward. The weights are copied when it is installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sluicegate.runtime.logs import get_logger

log = get_logger(__name__)

_LAYER_NORM_EPSILON = 1e-08  # thinc's LayerNorm adds it to the variance


class UnexpectedArchitecture(Exception):
    """The model is not the tok2vec this module reproduces; thinc's own forward stays."""


@dataclass(frozen=True)
class _Maxout:
    weights: np.ndarray  # (inputs, pieces * outputs), piece-major columns
    bias: np.ndarray  # (pieces * outputs,)
    outputs: int
    pieces: int

    @classmethod
    def of(cls, model: Any) -> _Maxout:
        _expect(model.name == "maxout", f"a maxout layer, not {model.name}")
        outputs, pieces, inputs = model.get_dim("nO"), model.get_dim("nP"), model.get_dim("nI")
        weights = model.get_param("W")  # (outputs, pieces, inputs)
        return cls(
            np.ascontiguousarray(weights.transpose(1, 0, 2).reshape(pieces * outputs, inputs).T, dtype=np.float32),
            np.ascontiguousarray(model.get_param("b").T.reshape(pieces * outputs), dtype=np.float32),
            outputs,
            pieces,
        )

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        scores = rows @ self.weights
        scores += self.bias
        width = self.outputs
        best = np.maximum(scores[:, :width], scores[:, width : 2 * width])
        for piece in range(2, self.pieces):
            np.maximum(best, scores[:, piece * width : (piece + 1) * width], out=best)
        return best


@dataclass(frozen=True)
class _LayerNorm:
    gain: np.ndarray
    bias: np.ndarray

    @classmethod
    def of(cls, model: Any) -> _LayerNorm:
        _expect(model.name == "layernorm", f"a layer norm, not {model.name}")
        return cls(model.get_param("G"), model.get_param("b"))

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        centred = rows - rows.mean(axis=1, keepdims=True)
        variance = (centred * centred).mean(axis=1, keepdims=True)
        variance += _LAYER_NORM_EPSILON
        centred *= variance**-0.5
        centred *= self.gain
        centred += self.bias
        return centred


@dataclass(frozen=True)
class _HashEmbedding:
    table: np.ndarray
    seed: int

    @classmethod
    def of(cls, model: Any) -> _HashEmbedding:
        _expect(model.name == "hashembed", f"a hashed embedding, not {model.name}")
        return cls(model.get_param("E"), model.attrs["seed"])


class FastTok2Vec:
    """Inference of the ner's tok2vec chain: `docs` in, one row of the parser's width per token out."""

    def __init__(self, model: Any) -> None:
        """Reads the weights of `model` (the ner model's "tok2vec" ref); raises UnexpectedArchitecture."""
        self._ops = model.ops
        _expect(len(model.layers) == 3, "tok2vec >> list2array >> linear")
        encoder, to_array, projection = model.layers
        _expect(to_array.name == "list2array" and projection.name == "linear", "list2array >> linear at the end")
        self._projection = np.ascontiguousarray(projection.get_param("W").T)
        self._projection_bias = projection.get_param("b")
        _expect(len(encoder.layers) == 2, "an embedding and an encoder")
        embed, encode = encoder.layers
        _expect(
            [layer.name for layer in embed.layers[:2]] == ["extract_features", "list2ragged"]
            and len(embed.layers) == 5
            and embed.layers[4].name == "ragged2list",
            "extract_features >> list2ragged >> embeddings >> mix >> ragged2list",
        )
        self._columns = list(embed.layers[0].attrs["columns"])
        concatenated = embed.layers[2].layers[0]
        _expect(len(concatenated.layers) == len(self._columns), "one hashed embedding a column")
        self._embeddings = []
        for column, getitem_embed in enumerate(concatenated.layers):
            getitem, hashembed = getitem_embed.layers
            _expect(getitem.attrs.get("index") == (slice(0, None, None), column), "embeddings in column order")
            self._embeddings.append(_HashEmbedding.of(hashembed))
        mix = embed.layers[3].layers[0]  # with_array(maxout >> layernorm >> dropout)
        self._mix = _maxout_and_norm(mix)
        self._pad = encode.attrs["pad"]
        self._blocks = []
        self._window = None
        for residual in encode.layers[0].layers:
            _expect(residual.name.startswith("residual("), f"residual blocks, not {residual.name}")
            window, block = residual.layers[0].layers
            _expect(window.name == "expand_window", f"a window expansion, not {window.name}")
            _expect(self._window in (None, window.attrs["window_size"]), "one window size")
            self._window = window.attrs["window_size"]
            self._blocks.append(_maxout_and_norm(block))
        _expect(self._window is not None, "at least one residual block")

    def __call__(self, docs: Sequence[Any]) -> np.ndarray:
        docs = [doc for doc in docs if len(doc)]  # thinc drops empty docs too: they have no rows
        if not docs:
            return np.zeros((0, self._projection.shape[1]), dtype=np.float32)
        lengths = [len(doc) for doc in docs]
        features = np.concatenate([doc.to_array(self._columns) for doc in docs]).astype(np.uint64)
        mixed = _apply(self._mix, self._embedded(features))
        # As thinc's with_array(pad=...) lays docs out: `pad` zero rows before each doc and after the last. The
        # blocks run over the whole array, padding rows included, so edge tokens see what thinc's see.
        starts = [self._pad * (number + 1) + sum(lengths[:number]) for number in range(len(docs))]
        hidden = np.zeros((starts[-1] + lengths[-1] + self._pad, mixed.shape[1]), dtype=np.float32)
        for start, length, offset in zip(starts, lengths, np.cumsum([0, *lengths[:-1]]), strict=True):
            hidden[start : start + length] = mixed[offset : offset + length]
        windows = np.zeros((len(hidden), (2 * self._window + 1) * hidden.shape[1]), dtype=np.float32)
        for block in self._blocks:
            self._fill_windows(windows, hidden)
            hidden += _apply(block, windows)
        tokens = np.concatenate([hidden[start : start + length] for start, length in zip(starts, lengths, strict=True)])
        projected = tokens @ self._projection
        projected += self._projection_bias
        return projected

    def _embedded(self, features: np.ndarray) -> np.ndarray:
        """Each column's hashed embedding (the sum of four rows a key, as thinc's HashEmbed), side by side."""
        return np.concatenate(
            [
                self._ops.gather_add(
                    embedding.table,
                    self._ops.hash(np.ascontiguousarray(features[:, column]), embedding.seed) % len(embedding.table),
                )
                for column, embedding in enumerate(self._embeddings)
            ],
            axis=1,
        )

    def _fill_windows(self, windows: np.ndarray, hidden: np.ndarray) -> None:
        """Each row as [the nW rows before it, itself, the nW after it], zeros past either end (thinc's seq2col).
        The zeros at the edges are never overwritten, so `windows` is allocated once for all the blocks."""
        width = hidden.shape[1]
        for offset in range(-self._window, self._window + 1):
            columns = slice((offset + self._window) * width, (offset + self._window + 1) * width)
            if offset < 0:
                windows[-offset:, columns] = hidden[:offset]
            elif offset > 0:
                windows[:-offset, columns] = hidden[offset:]
            else:
                windows[:, columns] = hidden


def install_fast_tok2vec(nlp: Any) -> bool:
    """Runs the `ner` pipe's tok2vec inference through FastTok2Vec; False (thinc's kept) if it is built otherwise."""
    tok2vec = nlp.get_pipe("ner").model.get_ref("tok2vec")
    try:
        fast = FastTok2Vec(tok2vec)
    except (UnexpectedArchitecture, AttributeError, IndexError, KeyError, ValueError) as exc:
        log.warning("ner tok2vec kept on thinc", reason=str(exc) or type(exc).__name__)
        return False
    thinc_forward = tok2vec._func

    def forward(model: Any, docs: Sequence[Any], is_train: bool) -> tuple[np.ndarray, Any]:
        if is_train:
            return thinc_forward(model, docs, is_train)
        return fast(docs), _inference_only

    tok2vec.replace_callbacks(forward, init=tok2vec.init)
    return True


def _maxout_and_norm(model: Any) -> tuple[_Maxout, _LayerNorm]:
    """maxout >> layernorm >> dropout (dropout does nothing at inference)."""
    _expect(model.name == "maxout>>layernorm>>dropout", f"maxout >> layernorm >> dropout, not {model.name}")
    maxout_and_norm, _dropout = model.layers
    maxout, norm = maxout_and_norm.layers
    return _Maxout.of(maxout), _LayerNorm.of(norm)


def _apply(layers: tuple[_Maxout, _LayerNorm], rows: np.ndarray) -> np.ndarray:
    maxout, norm = layers
    return norm(maxout(rows))


def _inference_only(_gradient: Any) -> None:
    raise RuntimeError("the fast tok2vec runs inference only")


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise UnexpectedArchitecture(f"expected {what}")
