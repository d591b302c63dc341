"""TraceIngestor: keeps each new trace in the ring buffer and counts it into the metrics."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from sluicegate_observer.metrics import TraceMetrics
from sluicegate_observer.recent import RecentTraces
from sluicegate_observer.records import TraceRecord


class TraceIngestor:
    """Ingests batches. A trace whose request id is already held is ignored, so a retried batch counts once."""

    def __init__(self, traces: RecentTraces, metrics: TraceMetrics, clock: Callable[[], float]) -> None:
        self._traces = traces
        self._metrics = metrics
        self._clock = clock

    def sender_report(self, sender: str, dropped: int, queue_depth: int) -> None:
        """What a sender says of its own queue: traces it lost before they reached us, and how many still wait."""
        if dropped > 0:
            self._metrics.count_dropped(sender, dropped)
        self._metrics.sender_queue_depth(sender, queue_depth)

    def ingest(self, records: Iterable[TraceRecord]) -> int:
        """Returns how many records were kept. A record without a timestamp is stamped with the arrival time."""
        accepted = 0
        now = self._clock()
        for record in records:
            if not record.timestamp:
                record = dataclasses.replace(record, timestamp=now)
            if self._traces.add(record):
                self._metrics.observe(record)
                accepted += 1
        return accepted
