"""DashboardData: the JSON the HTTP dashboard draws, computed from the traces in the ring buffer and the alerts."""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sluicegate_observer.alerts import Alert, AlertEvaluator
from sluicegate_observer.recent import RecentTraces
from sluicegate_observer.records import UNKNOWN, TraceRecord
from sluicegate_observer.summary import percentile, summarize_group

BUCKETS = 60
# Charts stay legible with a handful of lines: the biggest spenders keep their names, the rest are summed.
MAX_SERIES = 6
TOP_SPENDERS = 10
OTHERS = "others"


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    """`buckets` equal time slices ending at `end` (epoch seconds)."""

    end: float
    range_seconds: float
    buckets: int = BUCKETS

    @property
    def bucket_seconds(self) -> float:
        return self.range_seconds / self.buckets

    @property
    def start(self) -> float:
        return self.end - self.range_seconds

    def index(self, timestamp: float) -> int:
        return min(int((timestamp - self.start) // self.bucket_seconds), self.buckets - 1)

    def bucket_starts(self) -> list[float]:
        return [self.start + i * self.bucket_seconds for i in range(self.buckets)]


def _bucketed(window: Window, records: Sequence[TraceRecord]) -> list[list[TraceRecord]]:
    slices: list[list[TraceRecord]] = [[] for _ in range(window.buckets)]
    for record in records:
        slices[window.index(record.timestamp)].append(record)
    return slices


def _series(name: str, values: Sequence[float | None]) -> dict[str, Any]:
    return {"name": name, "values": list(values)}


def _cost_series(
    slices: Sequence[Sequence[TraceRecord]], key: Callable[[TraceRecord], str], totals: dict[str, int]
) -> list[dict[str, Any]]:
    """Cost per bucket for the `MAX_SERIES` largest keys by total cost, the rest summed as "others"."""
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    named = set(ranked[:MAX_SERIES])
    values: dict[str, list[float]] = {name: [0.0] * len(slices) for name in ranked[:MAX_SERIES]}
    for index, members in enumerate(slices):
        for record in members:
            name = key(record)
            target = name if name in named else OTHERS
            values.setdefault(target, [0.0] * len(slices))[index] += record.cost_micros_usd
    return [_series(name, series) for name, series in values.items()]


def _totals(records: Sequence[TraceRecord], key: Callable[[TraceRecord], str]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for record in records:
        totals[key(record)] += record.cost_micros_usd
    return totals


def _latency_series(slices: Sequence[Sequence[TraceRecord]]) -> list[dict[str, Any]]:
    sorted_ms = [sorted(record.duration_seconds * 1000 for record in members) for members in slices]
    return [
        _series(name, [percentile(values, fraction) if values else None for values in sorted_ms])
        for name, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
    ]


def _cache_hit_rate(records: Sequence[TraceRecord]) -> float | None:
    lookups = [record for record in records if record.is_cache_lookup]
    return sum(record.is_cache_hit for record in lookups) / len(lookups) if lookups else None


def _alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "rule": alert.rule,
        "subject": alert.subject,
        "value": alert.value,
        "threshold": alert.threshold,
        "description": alert.description,
        "fired_at": alert.fired_at,
    }


def _model(record: TraceRecord) -> str:
    return record.model or UNKNOWN


def _tenant(record: TraceRecord) -> str:
    return record.tenant or UNKNOWN


def dashboard_json(window: Window, records: Sequence[TraceRecord], alerts: Sequence[Alert]) -> dict[str, Any]:
    """Everything one dashboard refresh shows. Pure CPU work over a snapshot, so it can run in a thread."""
    slices = _bucketed(window, records)
    by_model: dict[str, list[TraceRecord]] = defaultdict(list)
    for record in records:
        by_model[_model(record)].append(record)
    models = [dataclasses.asdict(summarize_group(name, members)) for name, members in by_model.items()]
    models.sort(key=lambda summary: (-summary["requests"], summary["group"]))
    tenant_costs = _totals(records, _tenant)
    tenant_requests: dict[str, int] = defaultdict(int)
    for record in records:
        tenant_requests[_tenant(record)] += 1
    spenders = sorted(tenant_costs, key=lambda name: (-tenant_costs[name], name))[:TOP_SPENDERS]
    totals = dataclasses.asdict(summarize_group("", records))
    totals["cache_lookup_hit_rate"] = _cache_hit_rate(records)
    return {
        "generated_at": window.end,
        "range_seconds": window.range_seconds,
        "bucket_seconds": window.bucket_seconds,
        "buckets": window.bucket_starts(),
        "totals": totals,
        "cost_by_model": _cost_series(slices, _model, _totals(records, _model)),
        "cost_by_tenant": _cost_series(slices, _tenant, tenant_costs),
        "latency_ms": _latency_series(slices),
        "tokens": [
            _series("prompt", [sum(r.prompt_tokens for r in members) for members in slices]),
            _series("completion", [sum(r.completion_tokens for r in members) for members in slices]),
        ],
        "requests": [
            _series("requests", [len(members) for members in slices]),
            _series("errors", [sum(r.is_error for r in members) for members in slices]),
        ],
        "cache_hit_rate": [_series("hit rate", [_cache_hit_rate(members) for members in slices])],
        "models": models,
        "top_spenders": [
            {"tenant": name, "cost_micros_usd": tenant_costs[name], "requests": tenant_requests[name]}
            for name in spenders
        ],
        "alerts": [_alert_json(alert) for alert in alerts],
    }


class DashboardData:
    """Snapshots the buffer on the event loop (cheap) so the aggregation can run elsewhere."""

    def __init__(self, traces: RecentTraces, evaluator: AlertEvaluator, clock: Callable[[], float]) -> None:
        self._traces = traces
        self._evaluator = evaluator
        self._clock = clock

    def snapshot(self, range_seconds: float) -> tuple[Window, list[TraceRecord], list[Alert]]:
        window = Window(end=self._clock(), range_seconds=range_seconds)
        return window, self._traces.between(window.start, window.end), self._evaluator.alerts()


def parse_range_seconds(minutes: str | None, default_minutes: float, max_minutes: float) -> float:
    """`?minutes=` from the query string, clamped to (0, max]; a malformed value means the default."""
    try:
        value = float(minutes) if minutes else default_minutes
    except ValueError:
        value = default_minutes
    if not math.isfinite(value) or value <= 0:
        value = default_minutes
    return min(value, max_minutes) * 60
