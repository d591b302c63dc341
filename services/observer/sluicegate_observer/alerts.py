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
TOKENS_PER_REQUEST_HIGH = "tokens_per_request_high"
ERROR_RATE_HIGH = "error_rate_high"
COST_PER_REQUEST_HIGH = "cost_per_request_high"
CACHE_HIT_RATE_LOW = "cache_hit_rate_low"
BUDGET_SOFT_THRESHOLD = "budget_soft_threshold"
ALL_MODELS = "all"
# Resolved alerts are kept only so operators can see what recently cleared.
RESOLVED_KEPT = 100


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    """The rules' thresholds and hysteresis; a subject with fewer than `min_requests` in the window never fires.

    A firing alert resolves after `clean_evaluations` evaluations in a row where its value is past the threshold
    by `resolve_margin` (a fraction of it) on the good side, or where its subject has too little traffic to judge.
    `cost_per_request_micros_usd` 0 turns the cost rule off.
    """

    window_seconds: float
    min_requests: int
    p95_latency_seconds: float
    error_rate: float
    cache_hit_rate: float
    tokens_ratio: float
    baseline_seconds: float
    cost_per_request_micros_usd: float
    resolve_margin: float
    clean_evaluations: int


@dataclass(frozen=True, slots=True)
class Measurement:
    """A rule's value for a subject at this evaluation, breached or not; `above` says a high value is the bad side."""

    rule: str
    subject: str
    value: float
    threshold: float
    description: str
    above: bool = True

    @property
    def breached(self) -> bool:
        return self.value > self.threshold if self.above else self.value < self.threshold

    def clean(self, margin: float) -> bool:
        """Past the threshold on the good side by `margin` of it: the band in between keeps an alert firing."""
        if self.above:
            return self.value < self.threshold * (1 - margin)
        return self.value > self.threshold * (1 + margin)


@dataclass(slots=True)
class Baseline:
    """A model's tokens per request, averaged exponentially over time (epoch seconds of the last update)."""

    tokens_per_request: float
    updated_at: float

    def update(self, value: float, now: float, time_constant_seconds: float) -> None:
        weight = 1 - math.exp(-max(now - self.updated_at, 0.0) / time_constant_seconds)
        self.tokens_per_request += (value - self.tokens_per_request) * weight
        self.updated_at = now


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

    An alert fires the first time its rule is breached for its subject, and resolves with hysteresis (see
    `AlertThresholds`), which includes its traffic leaving the window. Tokens per request compare with a rolling
    per-model baseline that learns only while that model's alert is not firing. The clock (epoch seconds) is
    injected.
    """

    def __init__(self, traces: RecentTraces, thresholds: AlertThresholds, clock: Callable[[], float]) -> None:
        self._traces = traces
        self._thresholds = thresholds
        self._clock = clock
        self._firing: dict[tuple[str, str], Alert] = {}
        self._clean_runs: dict[tuple[str, str], int] = {}
        self._resolved: deque[Alert] = deque(maxlen=RESOLVED_KEPT)
        self._baselines: dict[str, Baseline] = {}

    def evaluate(self) -> list[Alert]:
        """Updates the alerts' state; returns the alerts that fired or resolved at this evaluation."""
        now = self._clock()
        window = self._traces.between(now - self._thresholds.window_seconds, math.inf)
        measured = {(m.rule, m.subject): m for m in self._measure(window, now)}
        changed: list[Alert] = []
        for key, alert in list(self._firing.items()):
            measurement = measured.get(key)
            if measurement is not None and not measurement.clean(self._thresholds.resolve_margin):
                self._clean_runs[key] = 0
                self._firing[key] = replace(
                    alert, value=measurement.value, threshold=measurement.threshold, description=measurement.description
                )
                continue
            self._clean_runs[key] = self._clean_runs.get(key, 0) + 1
            if self._clean_runs[key] >= self._thresholds.clean_evaluations:
                resolved = replace(alert, resolved_at=now)
                del self._firing[key], self._clean_runs[key]
                self._resolved.append(resolved)
                changed.append(resolved)
        for key, measurement in measured.items():
            if measurement.breached and key not in self._firing:
                fired = Alert(
                    measurement.rule,
                    measurement.subject,
                    measurement.value,
                    measurement.threshold,
                    measurement.description,
                    now,
                )
                self._firing[key] = fired
                self._clean_runs[key] = 0
                changed.append(fired)
        return changed

    def alerts(self, include_resolved: bool = False) -> list[Alert]:
        """Firing alerts (and the recently resolved ones), the latest to fire or resolve first."""
        listed = list(self._firing.values())
        if include_resolved:
            listed.extend(self._resolved)
        return sorted(listed, key=lambda alert: alert.last_change, reverse=True)

    def baseline(self, model: str) -> float | None:
        """The model's rolling tokens-per-request baseline, once it has had a window with enough requests."""
        baseline = self._baselines.get(model)
        return baseline.tokens_per_request if baseline else None

    def _measure(self, window: list[TraceRecord], now: float) -> Iterator[Measurement]:
        """Every rule's value for every subject with enough traffic, breached or not."""
        limits = self._thresholds
        seconds = f"{limits.window_seconds:g} s"
        by_model: dict[str, list[TraceRecord]] = defaultdict(list)
        for record in window:
            by_model[record.model or UNKNOWN].append(record)
        for model, records in by_model.items():
            if len(records) < limits.min_requests:
                continue
            p95 = percentile(sorted(record.duration_seconds for record in records), 0.95)
            yield Measurement(
                LATENCY_P95_HIGH,
                model,
                p95,
                limits.p95_latency_seconds,
                f"p95 latency of {model} is {p95:.2f} s over the last {seconds} "
                f"(threshold {limits.p95_latency_seconds:g} s)",
            )
            error_rate = sum(record.is_error for record in records) / len(records)
            yield Measurement(
                ERROR_RATE_HIGH,
                model,
                error_rate,
                limits.error_rate,
                f"{error_rate:.1%} of {len(records)} requests to {model} failed over the last {seconds} "
                f"(threshold {limits.error_rate:.1%})",
            )
            tokens = sum(record.prompt_tokens + record.completion_tokens for record in records) / len(records)
            measurement = self._tokens_against_baseline(model, tokens, now)
            if measurement is not None:
                yield measurement
        if len(window) >= limits.min_requests and limits.cost_per_request_micros_usd > 0:
            cost = sum(record.cost_micros_usd for record in window) / len(window)
            yield Measurement(
                COST_PER_REQUEST_HIGH,
                ALL_MODELS,
                cost,
                limits.cost_per_request_micros_usd,
                f"a request costs {cost:,.0f} micro-USD on average over the last {seconds} "
                f"(budget per request {limits.cost_per_request_micros_usd:,.0f})",
            )
        # One request that found its budget past the soft threshold is enough: the bucket is the subject.
        for bucket in sorted({bucket for record in window for bucket in record.budgets_past_soft_threshold}):
            yield Measurement(
                BUDGET_SOFT_THRESHOLD,
                bucket,
                1.0,
                0.5,
                f"budget {bucket} has passed its soft threshold (spend and reservations, last {seconds})",
            )
        lookups = [record for record in window if record.is_cache_lookup]
        if len(lookups) >= limits.min_requests:
            hit_rate = sum(record.is_cache_hit for record in lookups) / len(lookups)
            yield Measurement(
                CACHE_HIT_RATE_LOW,
                ALL_MODELS,
                hit_rate,
                limits.cache_hit_rate,
                f"cache hit rate is {hit_rate:.1%} of {len(lookups)} lookups over the last {seconds} "
                f"(threshold {limits.cache_hit_rate:.1%})",
                above=False,
            )

    def _tokens_against_baseline(self, model: str, tokens: float, now: float) -> Measurement | None:
        """Compares with the baseline, then lets the baseline learn unless this model's alert is firing (a
        sustained spike would otherwise become the new normal and silence its own alert)."""
        limits = self._thresholds
        baseline = self._baselines.get(model)
        if baseline is None:
            self._baselines[model] = Baseline(tokens, now)
            return None
        threshold = limits.tokens_ratio * baseline.tokens_per_request
        measurement = Measurement(
            TOKENS_PER_REQUEST_HIGH,
            model,
            tokens,
            threshold,
            f"{model} used {tokens:,.0f} tokens per request over the last {limits.window_seconds:g} s, "
            f"over {limits.tokens_ratio:g}x its baseline of {baseline.tokens_per_request:,.0f}",
        )
        if (TOKENS_PER_REQUEST_HIGH, model) not in self._firing and not measurement.breached:
            baseline.update(tokens, now, limits.baseline_seconds)
        return measurement if baseline.tokens_per_request > 0 else None
