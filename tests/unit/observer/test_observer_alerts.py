"""Alert rules over the sliding window: fire on breach, resolve once the window clears, never on thin traffic."""

from __future__ import annotations

import pytest

from sluicegate_observer.alerts import (
    CACHE_HIT_RATE_LOW,
    ERROR_RATE_HIGH,
    LATENCY_P95_HIGH,
    AlertEvaluator,
    AlertThresholds,
)
from sluicegate_observer.recent import RecentTraces

THRESHOLDS = AlertThresholds(
    window_seconds=300, min_requests=20, p95_latency_seconds=5.0, error_rate=0.01, cache_hit_rate=0.30
)


@pytest.fixture
def traces() -> RecentTraces:
    return RecentTraces(capacity=10_000)


@pytest.fixture
def evaluator(traces, clock) -> AlertEvaluator:
    return AlertEvaluator(traces, THRESHOLDS, clock)


def _add(traces, records) -> None:
    for record in records:
        traces.add(record)


def test_slow_traffic_fires_and_resolves_once_the_window_clears(traces, evaluator, clock, make_record):
    _add(traces, [make_record(model="slowpoke", duration_seconds=8.0, timestamp=clock.now) for _ in range(20)])
    _add(traces, [make_record(model="quick", duration_seconds=0.2, timestamp=clock.now) for _ in range(20)])

    fired = evaluator.evaluate()

    assert [(alert.rule, alert.subject) for alert in fired] == [(LATENCY_P95_HIGH, "slowpoke")]
    alert = fired[0]
    assert alert.is_firing
    assert alert.value == pytest.approx(8.0)
    assert alert.threshold == 5.0
    assert alert.fired_at == clock.now
    assert "slowpoke" in alert.description

    clock.advance(200)
    assert evaluator.evaluate() == []
    assert [a.subject for a in evaluator.alerts()] == ["slowpoke"]

    clock.advance(101)
    resolved = evaluator.evaluate()

    assert [(a.rule, a.subject, a.is_firing) for a in resolved] == [(LATENCY_P95_HIGH, "slowpoke", False)]
    assert resolved[0].resolved_at == clock.now
    assert evaluator.alerts() == []
    assert [(a.subject, a.resolved_at) for a in evaluator.alerts(include_resolved=True)] == [("slowpoke", clock.now)]


def test_error_rate_fires_above_one_percent(traces, evaluator, clock, make_record):
    _add(traces, [make_record(model="flaky") for _ in range(19)])
    _add(traces, [make_record(model="flaky", status_code="UNAVAILABLE", error_reason="UPSTREAM_UNAVAILABLE")])

    fired = evaluator.evaluate()

    assert [(alert.rule, alert.subject) for alert in fired] == [(ERROR_RATE_HIGH, "flaky")]
    assert fired[0].value == pytest.approx(0.05)


def test_too_few_requests_never_fire(traces, evaluator, clock, make_record):
    _add(traces, [make_record(duration_seconds=30.0, status_code="INTERNAL") for _ in range(19)])

    assert evaluator.evaluate() == []


def test_a_firing_alert_updates_its_value_without_firing_again(traces, evaluator, clock, make_record):
    _add(traces, [make_record(status_code="UNAVAILABLE") for _ in range(20)])
    first = evaluator.evaluate()
    clock.advance(10)
    _add(traces, [make_record(timestamp=clock.now) for _ in range(20)])

    assert evaluator.evaluate() == []
    [alert] = evaluator.alerts()
    assert alert.fired_at == first[0].fired_at
    assert alert.value == pytest.approx(0.5)


def test_low_cache_hit_rate_counts_only_real_lookups(traces, evaluator, clock, make_record):
    _add(traces, [make_record(cache_outcome="hit_exact") for _ in range(10)])
    _add(traces, [make_record(cache_outcome="skipped") for _ in range(100)])
    _add(traces, [make_record(cache_outcome="miss") for _ in range(15)])

    assert evaluator.evaluate() == []

    _add(traces, [make_record(cache_outcome="miss") for _ in range(15)])
    fired = evaluator.evaluate()

    assert [(alert.rule, alert.subject) for alert in fired] == [(CACHE_HIT_RATE_LOW, "all")]
    assert fired[0].value == pytest.approx(0.25)


def test_alerts_list_newest_change_first(traces, evaluator, clock, make_record):
    _add(traces, [make_record(model="a", status_code="INTERNAL") for _ in range(20)])
    evaluator.evaluate()
    clock.advance(5)
    _add(traces, [make_record(model="b", status_code="INTERNAL", timestamp=clock.now) for _ in range(20)])
    evaluator.evaluate()

    assert [alert.subject for alert in evaluator.alerts()] == ["b", "a"]
