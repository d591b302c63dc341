"""The semantic layer of prompt-injection detection: nearest attack exemplar against nearest benign look-alike.

Text is cut into windows of whole sentences (about 240 characters, never truncated, so a line planted
in the middle of a long page gets a window of its own), each window is embedded with the shared
`SentenceEmbedder`, and compared with a bank of attack exemplars and of benign look-alikes built from
the train half of `eval/injection.jsonl` (`eval/build_semantic_bank.py`). Per window:

* `margin` = similarity to the nearest attack minus similarity to the nearest benign look-alike;
* semantic score = sigmoid(slope * (margin - offset)) once the nearest attack is at least `min_attack`
  similar, else 0; it is a finding of the nearest attack's category over the window's span;
* a rule hit inside a window whose nearest neighbour is a benign look-alike by at least `benign_margin`
  is turned down by `benign_damping` ("ignore the noise in the data" is not an attack).

A semantic finding whose category equals that of a rule hit in the same window is fused with it into one
finding (noisy-OR of the two scores, the rule's span, detector `rules+semantic`). The parameters are
tuned on the train half and stored in the bank file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sluicegate_guard.injection import InjectionHit, fuse

BANK_PATH = Path(__file__).with_name("data") / "semantic_bank.npz"
WINDOW_CHARS = 120
_BATCH = 32  # windows embedded together: one padded matrix per batch bounds the memory of long texts
_SENTENCE_END = re.compile(r"(?<=[.!?。！？;])\s+|\n+")
_WORD = re.compile(r"[^\W\d_]+")
# Function words that other Latin-script languages do not share: MiniLM is an English model, and other
# languages embed close to one another whatever they say, so the rules alone judge them.
_ENGLISH_WORDS = frozenset({
    "the", "you", "your", "and", "of", "is", "are", "this", "that", "what", "with", "all", "from", "now", "please",
    "how", "it", "i", "to", "be", "was", "were", "will", "can", "my", "our", "we", "they", "them", "their", "any",
    "not", "do", "does", "did", "have", "has", "had", "for", "on", "at", "by", "as", "or", "if",
})  # fmt: skip
_MIN_ENGLISH_RATIO = 0.15


@dataclass(frozen=True)
class SemanticParams:
    """How window similarities become scores (tuned on the train half)."""

    slope: float = 12.0
    offset: float = 0.1
    min_attack: float = 0.45
    benign_margin: float = 0.1
    benign_damping: float = 0.5


@dataclass(frozen=True)
class SemanticBank:
    """Unit vectors of attack exemplars and benign look-alikes; `categories[i]` is empty for benign ones."""

    vectors: np.ndarray
    is_attack: np.ndarray
    categories: list[str]
    sources: np.ndarray
    params: SemanticParams

    @classmethod
    def load(cls, path: Path = BANK_PATH) -> SemanticBank:
        with np.load(path, allow_pickle=False) as data:
            params = SemanticParams(*(float(value) for value in data["params"]))
            return cls(
                data["vectors"].astype(np.float32),
                data["is_attack"].astype(bool),
                [str(category) for category in data["categories"]],
                data["sources"],
                params,
            )

    def save(self, path: Path = BANK_PATH) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        p = self.params
        np.savez_compressed(
            path,
            vectors=self.vectors.astype(np.float16),
            is_attack=self.is_attack,
            categories=np.array(self.categories),
            sources=self.sources,
            params=np.array([p.slope, p.offset, p.min_attack, p.benign_margin, p.benign_damping]),
        )


@dataclass(frozen=True)
class WindowMatch:
    """A window's span and its nearest attack (similarity, category) and nearest benign similarity."""

    start: int
    end: int
    attack: float
    category: str
    benign: float


def looks_english(text: str) -> bool:
    words = _WORD.findall(text.lower())
    return bool(words) and sum(word in _ENGLISH_WORDS for word in words) / len(words) >= _MIN_ENGLISH_RATIO


def windows(text: str, size: int = WINDOW_CHARS) -> list[tuple[int, int]]:
    """Spans of consecutive whole sentences of about `size` characters; a longer sentence is cut in pieces."""
    spans: list[tuple[int, int]] = []
    sentence_start = 0
    boundaries = [match.start() for match in _SENTENCE_END.finditer(text)] + [len(text)]
    sentences = []
    for boundary in boundaries:
        if text[sentence_start:boundary].strip():
            sentences.append((sentence_start, boundary))
        sentence_start = boundary
    window_start: int | None = None
    window_end = 0
    for start, end in sentences:
        while end - start > size:  # a sentence longer than a window: cut it
            if window_start is not None:
                spans.append((window_start, window_end))
                window_start = None
            spans.append((start, start + size))
            start += size
        if window_start is not None and end - window_start > size:
            spans.append((window_start, window_end))
            window_start = None
        if window_start is None:
            window_start = start
        window_end = end
    if window_start is not None:
        spans.append((window_start, window_end))
    return spans


class SemanticLayer:
    """Scores windows against the bank and fuses the result with the rule hits of the same text."""

    def __init__(self, embedder, bank: SemanticBank) -> None:
        self._embedder = embedder
        self._bank = bank
        self._attack_vectors = bank.vectors[bank.is_attack]
        self._attack_categories = [
            category for category, attack in zip(bank.categories, bank.is_attack, strict=True) if attack
        ]
        self._benign_vectors = bank.vectors[~bank.is_attack]
        self.params = bank.params

    @classmethod
    def load(cls) -> SemanticLayer:
        from sluicegate.embedding.embedder import SentenceEmbedder

        return cls(SentenceEmbedder(), SemanticBank.load())

    def matches(self, text: str) -> list[WindowMatch]:
        spans = [(start, end) for start, end in windows(text) if looks_english(text[start:end])]
        if not spans:
            return []
        pieces = [text[start:end] for start, end in spans]
        vectors = np.concatenate(
            [self._embedder.embed(pieces[at : at + _BATCH]) for at in range(0, len(pieces), _BATCH)]
        )
        attack = vectors @ self._attack_vectors.T
        benign = vectors @ self._benign_vectors.T
        best_attack = attack.argmax(axis=1)
        return [
            WindowMatch(
                start,
                end,
                float(attack[index, best_attack[index]]),
                self._attack_categories[best_attack[index]],
                float(benign[index].max()),
            )
            for index, (start, end) in enumerate(spans)
        ]

    def fuse(self, text: str, hits: list[InjectionHit]) -> list[InjectionHit]:
        return fuse_layers(hits, self.matches(text), self.params)


def semantic_score(match: WindowMatch, params: SemanticParams) -> float:
    if match.attack < params.min_attack:
        return 0.0
    return 1.0 / (1.0 + math.exp(-params.slope * (match.attack - match.benign - params.offset)))


def fuse_layers(hits: list[InjectionHit], matches: list[WindowMatch], params: SemanticParams) -> list[InjectionHit]:
    """One finding per category and span: rule hits (damped near benign look-alikes) fused with window scores."""
    fused: list[InjectionHit] = []
    for hit in hits:
        window = _window_of(hit, matches)
        if window is not None and window.benign - window.attack >= params.benign_margin:
            hit = replace(hit, score=hit.score * params.benign_damping)
        fused.append(hit)
    for match in matches:
        score = semantic_score(match, params)
        if score <= 0.0:
            continue
        same = [
            index
            for index, hit in enumerate(fused)
            if hit.category == match.category and _window_of(hit, matches) is match and hit.detector == "rules"
        ]
        if same:
            index = max(same, key=lambda candidate: fused[candidate].score)
            hit = fused[index]
            fused[index] = replace(hit, score=fuse((hit.score, score)), detector="rules+semantic")
        else:
            fused.append(InjectionHit("semantic", match.category, score, match.start, match.end, "semantic"))
    return sorted(fused, key=lambda hit: hit.start)


def _window_of(hit: InjectionHit, matches: list[WindowMatch]) -> WindowMatch | None:
    """The window that holds the start of the hit."""
    for match in matches:
        if match.start <= hit.start < match.end:
            return match
    return None
