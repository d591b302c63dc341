"""Prints the guard's prompt-injection TPR and FPR per category and overall on the labelled set.

Run: `python services/guard/eval/evaluate_injection.py [--split test|train|all] [--semantic | --no-semantic]
[--errors] [--latency]`.
It scores each row exactly as a worker scores one message in the guard's DEFAULT configuration: rules over
the normalised and decoded text, plus the semantic layer only when `GUARD_SEMANTIC` defaults on (it defaults
off) or `--semantic` is given; and it blocks at the guard's default threshold (`GUARD_INJECTION_THRESHOLD`). Thresholds and weights are tuned on the train half; the figures that
count are the test half's (the default). Target: TPR >= 0.90 at FPR <= 0.03, no attack category below 0.75.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

from sluicegate_guard.injection import InjectionDetector, build_detector
from sluicegate_guard.settings import GuardSettings

DATASET = Path(__file__).with_name("injection.jsonl")
TARGET_TPR, TARGET_FPR, TARGET_CATEGORY_TPR = 0.90, 0.03, 0.75
LATENCY_SIZES = (1_000, 5_000, 20_000)


def load_rows(split: str) -> list[dict]:
    rows = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if split == "all" or row["split"] == split]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("test", "train", "all"), default="test")
    layers = parser.add_mutually_exclusive_group()
    default_semantic = GuardSettings.model_fields["semantic"].default
    layers.add_argument("--semantic", dest="semantic", action="store_true", help="add the semantic layer")
    layers.add_argument("--no-semantic", dest="semantic", action="store_false", help="rules only")
    parser.set_defaults(semantic=default_semantic)
    parser.add_argument("--errors", action="store_true", help="list the misclassified rows")
    parser.add_argument("--latency", action="store_true", help="also time both layers on 1k/5k/20k-character texts")
    arguments = parser.parse_args()

    threshold = GuardSettings.model_fields["injection_threshold"].default
    detector: InjectionDetector = build_detector(semantic=arguments.semantic)
    rows = load_rows(arguments.split)
    started = time.perf_counter()
    outcomes: dict[tuple[str, str], list[bool]] = defaultdict(list)
    errors = []
    characters = 0
    for row in rows:
        score = detector.score(row["text"])
        characters += len(row["text"])
        flagged = score >= threshold
        outcomes[(row["label"], row["category"])].append(flagged)
        if flagged != (row["label"] == "attack"):
            errors.append((row["id"], round(score, 3), row["text"][:160].replace("\n", " ")))
    elapsed = time.perf_counter() - started

    layers = "rules+semantic" if arguments.semantic else "rules"
    print(f"split={arguments.split} rows={len(rows)} threshold={threshold} layers={layers}")
    print(f"{'attack category':<24}{'n':>5}{'TPR':>8}")
    tprs = []
    for (label, category), flags in sorted(outcomes.items()):
        if label == "attack":
            tprs.append(sum(flags) / len(flags))
            print(f"{category:<24}{len(flags):>5}{tprs[-1]:>8.3f}")
    print(f"{'benign kind':<24}{'n':>5}{'FPR':>8}")
    for (label, category), flags in sorted(outcomes.items()):
        if label == "benign":
            print(f"{category:<24}{len(flags):>5}{sum(flags) / len(flags):>8.3f}")
    attack_flags = [flag for (label, _), flags in outcomes.items() if label == "attack" for flag in flags]
    benign_flags = [flag for (label, _), flags in outcomes.items() if label == "benign" for flag in flags]
    tpr = sum(attack_flags) / len(attack_flags)
    fpr = sum(benign_flags) / len(benign_flags)
    met = tpr >= TARGET_TPR and fpr <= TARGET_FPR and min(tprs) >= TARGET_CATEGORY_TPR
    print(f"overall TPR={tpr:.3f} (n={len(attack_flags)}) FPR={fpr:.3f} (n={len(benign_flags)})")
    print(f"lowest category TPR={min(tprs):.3f} target met: {'yes' if met else 'no'}")
    print(f"scoring time {1000 * elapsed / max(characters, 1) * 1000:.2f} ms per 1k chars (one process)")
    if arguments.errors:
        for row_id, score, text in errors:
            print(f"  {row_id} score={score}: {text}")
    if arguments.latency:
        # The semantic column is timed even when the layer is off by default: it is the cost of turning it on.
        print_latency(rows, detector if arguments.semantic else build_detector(semantic=True), InjectionDetector())


def print_latency(rows: list[dict], detector: InjectionDetector, rules_only: InjectionDetector) -> None:
    """Per 1k characters, median over repeats: the cost of the semantic layer on top of the rules."""
    prose = " ".join(row["text"] for row in rows if row["label"] == "benign")
    print(f"latency, ms per 1k chars (median of 5; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"{'chars':>7}{'rules wall':>12}{'rules CPU':>11}{'+semantic wall':>16}{'+semantic CPU':>15}")
    for size in LATENCY_SIZES:
        text = (prose * (size // len(prose) + 1))[:size]
        figures = []
        for layers in (rules_only, detector):
            layers.scan(text)
            walls, cpus = [], []
            for _ in range(5):
                started, cpu_started = time.perf_counter(), time.process_time()
                layers.scan(text)
                walls.append((time.perf_counter() - started) * 1e6 / size)
                cpus.append((time.process_time() - cpu_started) * 1e6 / size)
            figures += [statistics.median(walls), statistics.median(cpus)]
        print(f"{size:>7}{figures[0]:>12.1f}{figures[1]:>11.1f}{figures[2]:>16.1f}{figures[3]:>15.1f}")


if __name__ == "__main__":
    main()
