"""Repeated texts are answered from the scan cache; new ones still reach the scanner, in one batch, in order."""

from __future__ import annotations

from collections.abc import Sequence

from sluicegate_guard.engine import EntityHit, ScanOptions, TextScan
from sluicegate_guard.scan_cache import CachingScanner


class CountingScanner:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def scan(self, texts: Sequence[str], options: ScanOptions = ScanOptions()) -> list[TextScan]:  # noqa: B008
        self.batches.append(list(texts))
        return [TextScan(entities=[EntityHit("EMAIL_ADDRESS", 0, len(text), 1.0)]) for text in texts]

    async def ready(self) -> bool:
        return True


async def test_known_texts_skip_the_scanner_and_results_keep_their_order() -> None:
    inner = CountingScanner()
    scanner = CachingScanner(inner, max_entries=10)
    first = await scanner.scan(["system prompt", "question one"])
    second = await scanner.scan(["system prompt", "question two", "question one"])
    assert inner.batches == [["system prompt", "question one"], ["question two"]]
    assert [scan.entities[0].end for scan in second] == [len("system prompt"), len("question two"), len("question one")]
    assert second[0] == first[0]
    assert (scanner.hits, scanner.misses) == (2, 3)


async def test_the_cache_is_bounded_and_forgets_the_least_recently_used() -> None:
    inner = CountingScanner()
    scanner = CachingScanner(inner, max_entries=2)
    await scanner.scan(["a", "b"])
    await scanner.scan(["a"])  # "b" is now the least recently used
    await scanner.scan(["c"])
    await scanner.scan(["a", "b"])
    assert inner.batches[-1] == ["b"]


async def test_an_answer_scan_is_not_served_from_a_prompt_scan_of_the_same_text() -> None:
    inner = CountingScanner()
    scanner = CachingScanner(inner, max_entries=10)
    await scanner.scan(["same text"])
    await scanner.scan(["same text"], ScanOptions(injection=False, ner=False))
    await scanner.scan(["same text"], ScanOptions(injection=False, ner=False))
    assert inner.batches == [["same text"], ["same text"]]
