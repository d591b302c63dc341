"""Summaries of buffered traces over a time range: requests, errors, latency percentiles, tokens, cost, cache hits."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from sluicegate_observer.recent import RecentTraces
from sluicegate_observer.records import UNKNOWN, TraceRecord

DEFAULT_RANGE_SECONDS = 3600.0


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile of ascending values, interpolating linearly between ranks (numpy's default)."""
    if not sorted_values:
        return 0.0
    position = (len(sorted_values) - 1) * fraction
    lower = math.floor(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * (position - lower)


class GroupBy(Enum):
    """The dimension a summary groups requests by."""

    MODEL = "model"
    TENANT = "tenant"
    DEPLOYMENT = "deployment"

    def key(self, record: TraceRecord) -> str:
        return getattr(record, self.value) or UNKNOWN


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """One group's requests summarised; latencies in milliseconds."""

    group: str
    requests: int
    errors: int
    error_rate: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_micros_usd: int
    cache_hits: int
    cache_hit_rate: float


@dataclass(frozen=True, slots=True)
class Summary:
    """The groups, most requests first, and every request in the range together."""

    groups: list[GroupSummary]
    total: GroupSummary


def summarize_group(group: str, records: Sequence[TraceRecord]) -> GroupSummary:
    durations_ms = sorted(record.duration_seconds * 1000 for record in records)
    requests = len(records)
    errors = sum(record.is_error for record in records)
    cache_hits = sum(record.is_cache_hit for record in records)
    return GroupSummary(
        group=group,
        requests=requests,
        errors=errors,
        error_rate=errors / requests if requests else 0.0,
        latency_p50_ms=percentile(durations_ms, 0.50),
        latency_p95_ms=percentile(durations_ms, 0.95),
        latency_p99_ms=percentile(durations_ms, 0.99),
        prompt_tokens=sum(record.prompt_tokens for record in records),
        completion_tokens=sum(record.completion_tokens for record in records),
        cost_micros_usd=sum(record.cost_micros_usd for record in records),
        cache_hits=cache_hits,
        cache_hit_rate=cache_hits / requests if requests else 0.0,
    )


class Summarizer:
    """Answers "how did requests go between two times?" from the traces still in the ring buffer."""

    def __init__(self, traces: RecentTraces, clock: Callable[[], float]) -> None:
        self._traces = traces
        self._clock = clock

    def summarize(self, start: float | None, end: float | None, group_by: GroupBy) -> Summary:
        """Times are epoch seconds; no end means now, no start means an hour before the end."""
        end = self._clock() if end is None else end
        start = end - DEFAULT_RANGE_SECONDS if start is None else start
        records = self._traces.between(start, end)
        grouped: dict[str, list[TraceRecord]] = defaultdict(list)
        for record in records:
            grouped[group_by.key(record)].append(record)
        groups = [summarize_group(group, members) for group, members in grouped.items()]
        groups.sort(key=lambda summary: (-summary.requests, summary.group))
        return Summary(groups=groups, total=summarize_group("", records))
