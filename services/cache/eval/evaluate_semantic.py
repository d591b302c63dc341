"""Precision and recall of semantic hits over the labelled question pairs in pairs.jsonl.

A pair is a hit when the cosine similarity of the two questions' embeddings reaches the threshold and the
correctness gate lets it through, exactly as a lookup decides. "same" pairs are paraphrases (a hit is right);
every other kind is a hard near-miss (a hit is a wrong answer served).

Per kind of near-miss, precision = right hits / (right hits + wrong hits on that kind), where right hits are
counted over the paraphrases of the same split; the wrong hits are printed as counts too. Recall = right hits /
paraphrases.

The threshold is fixed before the run: the service's default (CACHE_SEMANTIC_THRESHOLD), or --threshold.
`--choose` prints the threshold, substitution similarity and swap similarity the train half supports (the best
train recall at which every kind keeps precision >= --target on train); it never looks at the test half. Run:

    .venv/bin/python services/cache/eval/evaluate_semantic.py [--threshold T] [--substitution S] [--swap W]
        [--choose] [--show-errors]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sluicegate.embedding import SentenceEmbedder
from sluicegate_cache.gate import QuestionGate
from sluicegate_cache.settings import CacheSettings

PAIRS = Path(__file__).with_name("pairs.jsonl")
SAME = "paraphrase"


@dataclass(frozen=True)
class Scored:
    split: str
    kind: str
    same: bool
    similarity: float
    gate_difference: str | None
    a: str
    b: str


def report(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def score_pairs(path: Path) -> list[Scored]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    texts = sorted({row["a"] for row in rows} | {row["b"] for row in rows})
    embedder = SentenceEmbedder()
    vectors = np.concatenate([embedder.embed(texts[i : i + 32]) for i in range(0, len(texts), 32)])
    position = {text: i for i, text in enumerate(texts)}
    return [
        Scored(
            split=row["split"],
            kind=row["kind"],
            same=row["label"] == "same",
            similarity=float(vectors[position[row["a"]]] @ vectors[position[row["b"]]]),
            gate_difference=None,
            a=row["a"],
            b=row["b"],
        )
        for row in rows
    ]


def gated(pairs: list[Scored], gate: QuestionGate) -> list[Scored]:
    """The pairs with the gate's verdict: the later question (b) asks, the earlier one (a) is stored."""
    return [replace(pair, gate_difference=gate.difference(pair.b, pair.a, pair.similarity)) for pair in pairs]


def figures(pairs: list[Scored], threshold: float, use_gate: bool) -> dict[str, tuple[float, int, int]]:
    """Per near-miss kind: (precision, wrong hits, pairs); under SAME: (recall, right hits, paraphrases);
    under "all": (precision over every kind, wrong hits, near-miss pairs)."""
    hits: dict[str, int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for pair in pairs:
        totals[pair.kind] += 1
        if pair.similarity >= threshold and (not use_gate or pair.gate_difference is None):
            hits[pair.kind] += 1
    right = hits[SAME]
    result = {SAME: (right / totals[SAME] if totals[SAME] else 0.0, right, totals[SAME])}
    for kind in sorted(totals):
        if kind != SAME:
            wrong = hits[kind]
            result[kind] = (right / (right + wrong) if right + wrong else 1.0, wrong, totals[kind])
    wrong_all = sum(hits[kind] for kind in totals if kind != SAME)
    near_misses = sum(totals[kind] for kind in totals if kind != SAME)
    result["all"] = (right / (right + wrong_all) if right + wrong_all else 1.0, wrong_all, near_misses)
    return result


def print_figures(title: str, result: dict[str, tuple[float, int, int]]) -> None:
    recall, right, paraphrases = result[SAME]
    report(f"{title}: recall {recall:.3f} ({right}/{paraphrases} paraphrases served)")
    for kind, (precision, wrong, total) in result.items():
        if kind != SAME:
            report(f"    precision vs {kind:<10} {precision:.3f}  (wrong hits {wrong}/{total})")


def choose_thresholds(train: list[Scored], target: float) -> tuple[float, float, float, float] | None:
    """(threshold, substitution similarity, swap similarity, train recall): the combination with the best recall
    on train at which every near-miss kind keeps precision >= target; ties go to the stricter threshold and
    substitution similarity but to the lower swap similarity (the least the train half asks for)."""
    best = None
    for swap in np.arange(0.99, 0.905, -0.01):
        for substitution in np.arange(0.85, float(swap) + 0.001, 0.01):
            scored = gated(train, QuestionGate(float(substitution), float(swap)))
            for threshold in np.arange(0.60, 0.991, 0.01):
                result = figures(scored, float(threshold), use_gate=True)
                recall = result[SAME][0]
                if all(result[kind][0] >= target for kind in result if kind != SAME) and (
                    best is None or recall >= best[3]
                ):
                    best = (round(float(threshold), 2), round(float(substitution), 2), round(float(swap), 2), recall)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = CacheSettings()
    parser.add_argument("--threshold", type=float, default=defaults.semantic_threshold)
    parser.add_argument("--substitution", type=float, default=defaults.semantic_substitution_similarity)
    parser.add_argument("--swap", type=float, default=defaults.semantic_swap_similarity)
    parser.add_argument("--choose", action="store_true", help="print the threshold the train half supports")
    parser.add_argument("--target", type=float, default=0.99, help="per-kind precision --choose aims for on train")
    parser.add_argument(
        "--show-errors",
        action="store_true",
        help="list the train half's wrong hits and refused paraphrases (never the test half's: it is not for tuning)",
    )
    args = parser.parse_args()
    pairs = score_pairs(PAIRS)
    if args.choose:
        chosen = choose_thresholds([pair for pair in pairs if pair.split == "train"], args.target)
        report(
            f"chosen on train for per-kind precision >= {args.target}: (threshold, substitution, swap, recall) {chosen}"
        )
        return
    pairs = gated(pairs, QuestionGate(args.substitution, args.swap))
    report(
        f"{len(pairs)} pairs; threshold {args.threshold}, substitution similarity {args.substitution}, "
        f"swap similarity {args.swap} (fixed before the run)"
    )
    for split in ("train", "test"):
        subset = [pair for pair in pairs if pair.split == split]
        print_figures(f"{split} with gate", figures(subset, args.threshold, use_gate=True))
        print_figures(f"{split} bare cosine", figures(subset, args.threshold, use_gate=False))
    if args.show_errors:
        for pair in (pair for pair in pairs if pair.split == "train"):
            served = pair.similarity >= args.threshold and pair.gate_difference is None
            if served and not pair.same:
                report(f"WRONG HIT {pair.split} {pair.kind} {pair.similarity:.3f}: {pair.a} | {pair.b}")
            elif pair.same and pair.similarity >= args.threshold and pair.gate_difference:
                report(f"GATE REFUSED {pair.split} ({pair.gate_difference}) {pair.similarity:.3f}: {pair.a} | {pair.b}")


if __name__ == "__main__":
    main()
