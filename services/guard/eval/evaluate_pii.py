"""Prints the guard's PII precision, recall and F2 per entity type (span-level, typed) and its latency per 1k chars.

Run: `python services/guard/eval/evaluate_pii.py [--split test|train|all] [--no-ner] [--errors]`
(`pii_generate.py` writes the data). It runs the analyzer the guard's workers run (Presidio with the
guard's recognizers, the spaCy model when installed) with the default settings. A predicted span counts
as a true positive when a labelled span of the same type overlaps it with an intersection-over-union of
at least 0.5 (each labelled span matched once). Latency: the test rows joined into documents of about
1,000 characters, each analysed once after a warm-up; p50/p95 in ms per 1k characters, wall clock (the
target) and CPU time (what the wall clock would be on an idle core; the machine is shared).
Target: typed F2 >= 0.85 over all types at <= 50 ms p95 per 1k characters.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import Counter
from pathlib import Path

# One BLAS thread, as the guard's workers have (pool.py): OpenBLAS reads this when numpy loads it, and a second
# thread spinning beside the NER model's small products doubles the CPU time measured for the same wall time.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from sluicegate_guard.engine import EngineConfig, ScanEngine, build_analyzer, engine_entities  # noqa: E402
from sluicegate_guard.injection import InjectionDetector  # noqa: E402
from sluicegate_guard.settings import GuardSettings, ner_model_installed  # noqa: E402

DATASET = Path(__file__).with_name("pii.jsonl")
TYPES = (
    "PERSON",
    "LOCATION",
    "STREET_ADDRESS",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
)
MIN_IOU = 0.5
DOCUMENT_CHARS = 1_000
TARGET_F2, TARGET_P95_MS = 0.85, 50.0


def f_beta(precision: float, recall: float, beta: float = 2.0) -> float:
    if precision == 0 and recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    overlap = min(a[1], b[1]) - max(a[0], b[0])
    return max(0, overlap) / (max(a[1], b[1]) - min(a[0], b[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("test", "train", "all"), default="test")
    parser.add_argument("--no-ner", action="store_true")
    parser.add_argument("--errors", action="store_true", help="list missed and spurious spans")
    arguments = parser.parse_args()

    defaults = GuardSettings.model_fields
    config = EngineConfig(
        ner=ner_model_installed() and not arguments.no_ner,
        score_threshold=defaults["pii_score_threshold"].default,
        allow_list=tuple(defaults["allow_list"].default_factory()),
        semantic=False,
    )
    engine = ScanEngine(
        build_analyzer(config), engine_entities(config), config.score_threshold, config.allow_list, InjectionDetector()
    )
    rows = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [row for row in rows if arguments.split == "all" or row["split"] == arguments.split]

    true_positive, predicted, labelled = Counter(), Counter(), Counter()
    errors = []
    for row in rows:
        gold = [(span["type"], span["start"], span["end"]) for span in row["spans"]]
        found = [
            (hit.entity_type, hit.start, hit.end) for hit in engine.entities(row["text"]) if hit.entity_type in TYPES
        ]
        unmatched = list(gold)
        for kind, start, end in found:
            predicted[kind] += 1
            match = next((g for g in unmatched if g[0] == kind and iou((start, end), g[1:]) >= MIN_IOU), None)
            if match is not None:
                true_positive[kind] += 1
                unmatched.remove(match)
            else:
                errors.append(f"  {row['id']} spurious {kind} {row['text'][start:end]!r}")
        labelled.update(kind for kind, _, _ in gold)
        errors.extend(f"  {row['id']} missed {kind} {row['text'][start:end]!r}" for kind, start, end in unmatched)

    print(f"split={arguments.split} rows={len(rows)} ner={config.ner} match=typed, IoU>={MIN_IOU}")
    print(f"{'entity':<16}{'labelled':>9}{'found':>7}{'P':>7}{'R':>7}{'F2':>7}")
    for kind in TYPES:
        precision = true_positive[kind] / predicted[kind] if predicted[kind] else 0.0
        recall = true_positive[kind] / labelled[kind] if labelled[kind] else 0.0
        print(
            f"{kind:<16}{labelled[kind]:>9}{predicted[kind]:>7}{precision:>7.3f}{recall:>7.3f}"
            f"{f_beta(precision, recall):>7.3f}"
        )
    precision = sum(true_positive.values()) / max(sum(predicted.values()), 1)
    recall = sum(true_positive.values()) / max(sum(labelled.values()), 1)
    overall = f_beta(precision, recall)
    print(
        f"{'all (micro)':<16}{sum(labelled.values()):>9}{sum(predicted.values()):>7}{precision:>7.3f}{recall:>7.3f}{overall:>7.3f}"
    )

    documents, current = [], ""
    for row in rows:
        current = f"{current} {row['text']}" if current else row["text"]
        if len(current) >= DOCUMENT_CHARS:
            documents.append(current)
            current = ""
    engine.entities(documents[0])
    per_1k, cpu_per_1k = [], []
    for document in documents:
        started, cpu_started = time.perf_counter(), time.process_time()
        engine.entities(document)
        per_1k.append((time.perf_counter() - started) * 1000 * 1000 / len(document))
        cpu_per_1k.append((time.process_time() - cpu_started) * 1000 * 1000 / len(document))
    p95 = statistics.quantiles(per_1k, n=20)[-1]
    cpu_p95 = statistics.quantiles(cpu_per_1k, n=20)[-1]
    print(
        f"latency over {len(documents)} documents of ~1k chars: wall p50={statistics.median(per_1k):.1f} "
        f"p95={p95:.1f}, CPU p50={statistics.median(cpu_per_1k):.1f} p95={cpu_p95:.1f} ms per 1k chars "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    met = overall >= TARGET_F2 and p95 <= TARGET_P95_MS
    print(f"target (F2>={TARGET_F2}, p95<={TARGET_P95_MS:.0f} ms per 1k chars) met: {'yes' if met else 'no'}")
    if arguments.errors:
        print("\n".join(errors))


if __name__ == "__main__":
    main()
