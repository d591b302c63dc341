"""Builds the semantic layer's exemplar bank from the TRAIN half of `injection.jsonl` and tunes its parameters.

Run: `python services/guard/eval/build_semantic_bank.py`. Writes `sluicegate_guard/data/semantic_bank.npz`.

* Attack exemplars: the windows of train attacks that carry a rule match (a planted line, not the page
  around it), or the whole attack when it is one window; encoded payloads (the `obfuscated` category)
  are left out, their windows embed as noise. Benign look-alikes: every window of every train benign row.
* Each exemplar's category is its row's category when that is a rule category, else the category of
  the strongest rule match in it, else `instruction_override`.
* Parameters are chosen by grid search on the train half with leave-one-out (a row is never compared
  with its own exemplars): train FPR at or under 0.02 both for rules+semantic and for the semantic
  layer alone, then the semantic layer's own TPR (the only honest held-out figure: the rules were
  written on the train half), then the combined TPR, then the lowest category TPR. The test half is never read.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from sluicegate.embedding.embedder import SentenceEmbedder
from sluicegate_guard.injection import InjectionScanner, fuse
from sluicegate_guard.injection_rules import INDIRECT, RULES
from sluicegate_guard.semantic import SemanticBank, SemanticParams, WindowMatch, fuse_layers, looks_english, windows
from sluicegate_guard.settings import GuardSettings

DATASET = Path(__file__).with_name("injection.jsonl")
RULE_CATEGORIES = {rule.category for rule in RULES}
MAX_TRAIN_FPR = 0.02
GRID = {
    "slope": (8.0, 12.0, 16.0, 24.0, 32.0),
    "offset": (-0.05, 0.0, 0.05, 0.1, 0.15, 0.2),
    "min_attack": (0.4, 0.5, 0.6, 0.7),
    "benign_margin": (0.0, 0.1, 0.2, 1.0),
    "benign_damping": (0.4, 0.6, 0.8),
}


def _category(row: dict, hits) -> str:
    if row["category"] in RULE_CATEGORIES:
        return row["category"]
    if row["category"] == "indirect":
        return INDIRECT
    return max(hits, key=lambda hit: hit.score).category if hits else "instruction_override"


def main() -> None:
    rows = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]
    train = [row for row in rows if row["split"] == "train"]
    scanner = InjectionScanner()
    embedder = SentenceEmbedder()

    row_hits = [scanner.scan(row["text"]) for row in train]
    row_spans = [[(s, e) for s, e in windows(row["text"]) if looks_english(row["text"][s:e])] for row in train]
    row_vectors = [
        embedder.embed([row["text"][s:e] for s, e in spans]) for row, spans in zip(train, row_spans, strict=True)
    ]
    all_windows = [windows(row["text"]) for row in train]

    vectors, is_attack, categories, sources = [], [], [], []
    for index, row in enumerate(train):
        attack = row["label"] == "attack"
        if attack and row["category"] == "obfuscated":
            continue
        for (start, end), vector in zip(row_spans[index], row_vectors[index], strict=True):
            window_hits = [hit for hit in row_hits[index] if start <= hit.start < end]
            if attack and len(all_windows[index]) > 1 and not window_hits:
                continue
            vectors.append(vector)
            is_attack.append(attack)
            categories.append(_category(row, window_hits or row_hits[index]) if attack else "")
            sources.append(index)
    bank_vectors = np.array(vectors, dtype=np.float32)
    bank_attack = np.array(is_attack)
    bank_sources = np.array(sources, dtype=np.int32)

    # Leave-one-out window matches for every train row.
    row_matches: list[list[WindowMatch]] = []
    for index, spans in enumerate(row_spans):
        usable = bank_sources != index
        attack_mask, benign_mask = usable & bank_attack, usable & ~bank_attack
        attack_categories = [categories[i] for i in np.flatnonzero(attack_mask)]
        attack_sims = row_vectors[index] @ bank_vectors[attack_mask].T
        benign_sims = row_vectors[index] @ bank_vectors[benign_mask].T
        matches = []
        for window, (start, end) in enumerate(spans):
            best = int(attack_sims[window].argmax())
            matches.append(
                WindowMatch(
                    start,
                    end,
                    float(attack_sims[window, best]),
                    attack_categories[best],
                    float(benign_sims[window].max()),
                )
            )
        row_matches.append(matches)

    threshold = GuardSettings.model_fields["injection_threshold"].default

    def evaluate(params: SemanticParams, with_rules: bool) -> tuple:
        flags = defaultdict(list)
        for index, row in enumerate(train):
            hits = row_hits[index] if with_rules else []
            score = fuse(hit.score for hit in fuse_layers(hits, row_matches[index], params))
            flags[(row["label"], row["category"])].append(score >= threshold)
        attacks = [flag for (label, _), found in flags.items() if label == "attack" for flag in found]
        benign = [flag for (label, _), found in flags.items() if label == "benign" for flag in found]
        tpr, fpr = sum(attacks) / len(attacks), sum(benign) / len(benign)
        lowest = min(sum(found) / len(found) for (label, _), found in flags.items() if label == "attack")
        return (fpr <= MAX_TRAIN_FPR, tpr, lowest, -fpr)

    # The rules were written on the train half, so only the semantic layer alone gives an honest
    # leave-one-out estimate: both FPRs within bounds, then the semantic layer's own TPR, then the
    # combined TPR.
    best_rank, best_params = None, SemanticParams()
    for values in itertools.product(*GRID.values()):
        params = SemanticParams(*values)
        alone, combined = evaluate(params, with_rules=False), evaluate(params, with_rules=True)
        rank = (combined[0], alone[0], alone[1], combined[1], combined[2], combined[3])
        if best_rank is None or rank > best_rank:
            best_rank, best_params = rank, params
    semantic_only = evaluate(best_params, with_rules=False)
    best_key = evaluate(best_params, with_rules=True)
    SemanticBank(bank_vectors, bank_attack, categories, bank_sources, best_params).save()
    print(
        f"bank: {int(bank_attack.sum())} attack and {int((~bank_attack).sum())} benign windows from {len(train)} rows"
    )
    print(f"params: {best_params}")
    print(f"train semantic layer alone (leave-one-out): TPR={semantic_only[1]:.3f} FPR={-semantic_only[3]:.3f}")
    print(f"train (leave-one-out): TPR={best_key[1]:.3f} lowest category={best_key[2]:.3f} FPR={-best_key[3]:.3f}")
    for index, row in enumerate(train):
        score = fuse(hit.score for hit in fuse_layers(row_hits[index], row_matches[index], best_params))
        if (score >= threshold) != (row["label"] == "attack"):
            print(f"  train miss {row['id']} score={score:.3f}")


if __name__ == "__main__":
    main()
