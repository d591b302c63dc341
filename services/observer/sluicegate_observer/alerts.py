"""AlertEvaluator: alert rules over a sliding window of recent traces, with fire and resolve state."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from sluicegate_observer.recent import RecentTraces
from sluicegate_observer.records import UNKNOWN, TraceRecord
from sluicegate_observer.summary import percentile

LATENCY_P95_HIGH = "latency_p95_high"
ERROR_RATE_HIGH = "error_rate_high"
CACHE_HIT_RATE_LOW = "cache_hit_rate_low"
ALL_MODELS = "all"
# Resolved alerts are kept only so operators can see what recently cleared.
RESOLVED_KEPT = 100


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    """The rules' thresholds; a subject with fewer than `min_requests` in the window never fires."""

    window_seconds: float
    min_requests: int
    p95_latency_seconds: float
    error_rate: float
    cache_hit_rate: float


@dataclass(frozen=True, slots=True)
class Breach:
    """A rule whose condition holds for a subject at this evaluation."""

    rule: str
    subject: str
    value: float
    threshold: float
    description: str


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert: firing while `resolved_at` is None. Times are epoch seconds."""

    rule: str
    subject: str
    value: float
    threshold: float
    description: str
    fired_at: float
    resolved_at: float | None = None

    @property
    def is_firing(self) -> bool:
        return self.resolved_at is None

    @property
    def last_change(self) -> float:
        return self.fired_at if self.resolved_at is None else self.resolved_at


class AlertEvaluator:
    """Evaluates the rules over the last `window_seconds` of traces (by trace timestamp) at each `evaluate()`.

    An alert fires the first time its rule holds for its subject and resolves at the first evaluation where it
    no longer does, which includes its traffic leaving the window. The clock (epoch seconds) is injected.
    """

    def __init__(self, traces: RecentTraces, thresholds: AlertThresholds, clock: Callable[[], float]) -> None:
        self._traces = traces
        self._thresholds = thresholds
        self._clock = clock
        self._firing: dict[tuple[str, str], Alert] = {}
        self._resolved: deque[Alert] = deque(maxlen=RESOLVED_KEPT)

    def evaluate(self) -> list[Alert]:
        """Updates the alerts' state; returns the alerts that fired or resolved at this evaluation."""
        now = self._clock()
        window = self._traces.between(now - self._thresholds.window_seconds, math.inf)
        breaches = {(breach.rule, breach.subject): breach for breach in self._breaches(window)}
        changed: list[Alert] = []
        for key, alert in list(self._firing.items()):
            if key not in breaches:
                resolved = replace(alert, resolved_at=now)
                del self._firing[key]
                self._resolved.append(resolved)
                changed.append(resolved)
        for key, breach in breaches.items():
            current = self._firing.get(key)
            if current is None:
                fired = Alert(breach.rule, breach.subject, breach.value, breach.threshold, breach.description, now)
                self._firing[key] = fired
                changed.append(fired)
            else:
                self._firing[key] = replace(current, value=breach.value, description=breach.description)
        return changed

    def alerts(self, include_resolved: bool = False) -> list[Alert]:
        """Firing alerts (and the recently resolved ones), the latest to fire or resolve first."""
        listed = list(self._firing.values())
        if include_resolved:
            listed.extend(self._resolved)
        return sorted(listed, key=lambda alert: alert.last_change, reverse=True)

    def _breaches(self, window: list[TraceRecord]) -> Iterator[Breach]:
        limits = self._thresholds
        seconds = f"{limits.window_seconds:g} s"
        by_model: dict[str, list[TraceRecord]] = defaultdict(list)
        for record in window:
            by_model[record.model or UNKNOWN].append(record)
        for model, records in by_model.items():
            if len(records) < limits.min_requests:
                continue
            p95 = percentile(sorted(record.duration_seconds for record in records), 0.95)
            if p95 > limits.p95_latency_seconds:
                yield Breach(
                    LATENCY_P95_HIGH,
                    model,
                    p95,
                    limits.p95_latency_seconds,
                    f"p95 latency of {model} is {p95:.2f} s over the last {seconds} "
                    f"(threshold {limits.p95_latency_seconds:g} s)",
                )
            error_rate = sum(record.is_error for record in records) / len(records)
            if error_rate > limits.error_rate:
                yield Breach(
                    ERROR_RATE_HIGH,
                    model,
                    error_rate,
                    limits.error_rate,
                    f"{error_rate:.1%} of {len(records)} requests to {model} failed over the last {seconds} "
                    f"(threshold {limits.error_rate:.1%})",
                )
        lookups = [record for record in window if record.is_cache_lookup]
        if len(lookups) >= limits.min_requests:
            hit_rate = sum(record.is_cache_hit for record in lookups) / len(lookups)
            if hit_rate < limits.cache_hit_rate:
                yield Breach(
                    CACHE_HIT_RATE_LOW,
                    ALL_MODELS,
                    hit_rate,
                    limits.cache_hit_rate,
                    f"cache hit rate is {hit_rate:.1%} of {len(lookups)} lookups over the last {seconds} "
                    f"(threshold {limits.cache_hit_rate:.1%})",
                )
