"""RecentTraces: a bounded ring buffer of trace records, indexed by request id."""

from __future__ import annotations

from collections import deque

from sluicegate_observer.records import TraceRecord


class RecentTraces:
    """Keeps the latest `capacity` records, one per request id; the oldest is dropped (and unindexed) when full."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self._capacity = capacity
        self._records: deque[TraceRecord] = deque()
        self._by_request_id: dict[str, TraceRecord] = {}

    def __len__(self) -> int:
        return len(self._records)

    def add(self, record: TraceRecord) -> bool:
        """Keeps the record; False (and nothing kept) when its request id is already held, so a retried batch
        is not counted twice."""
        if record.request_id in self._by_request_id:
            return False
        if len(self._records) == self._capacity:
            evicted = self._records.popleft()
            del self._by_request_id[evicted.request_id]
        self._records.append(record)
        self._by_request_id[record.request_id] = record
        return True

    def get(self, request_id: str) -> TraceRecord | None:
        return self._by_request_id.get(request_id)

    def between(self, start: float, end: float) -> list[TraceRecord]:
        """Records with `start <= timestamp <= end`. Arrival order is not timestamp order, so this scans them all."""
        return [record for record in self._records if start <= record.timestamp <= end]
