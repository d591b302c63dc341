"""Remembers what a text contained, so repeated texts (system prompts, shared documents, retries) skip the scan.

A scan's result depends only on the text and the engine's configuration, which is fixed for the process; the
tenant's policy is applied afterwards. Entries are keyed by the scan's options and the text's SHA-256 and hold
only spans, types and scores, never the text itself.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

from sluicegate_guard.engine import ScanOptions, TextScan
from sluicegate_guard.pool import Scanner


class CachingScanner:
    """A Scanner in front of another: known texts are answered from memory, the rest are scanned in one batch."""

    def __init__(self, inner: Scanner, max_entries: int) -> None:
        self._inner = inner
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[ScanOptions, bytes], TextScan] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def scan(self, texts: Sequence[str], options: ScanOptions = ScanOptions()) -> list[TextScan]:  # noqa: B008
        keys = [(options, hashlib.sha256(text.encode()).digest()) for text in texts]
        results: list[TextScan | None] = []
        unknown: list[int] = []
        for index, key in enumerate(keys):
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
            else:
                unknown.append(index)
            results.append(cached)
        self.hits += len(texts) - len(unknown)
        self.misses += len(unknown)
        if unknown:
            scanned = await self._inner.scan([texts[index] for index in unknown], options)
            for index, scan in zip(unknown, scanned, strict=True):
                results[index] = scan
                self._remember(keys[index], scan)
        return [result for result in results if result is not None]

    def _remember(self, key: tuple[ScanOptions, bytes], scan: TextScan) -> None:
        self._entries[key] = scan
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def ready(self) -> bool:
        return await self._inner.ready()
