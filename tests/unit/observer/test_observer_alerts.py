"""Alert rules over the sliding window: fire on breach, resolve once the window clears, never on thin traffic."""

from __future__ import annotations

import dataclasses
import math

import pytest

from sluicegate_observer.alerts import (
    BUDGET_SOFT_THRESHOLD,
    CACHE_HIT_RATE_LOW,
    COST_PER_REQUEST_HIGH,
    ERROR_RATE_HIGH,
    LATENCY_P95_HIGH,
    TOKENS_PER_REQUEST_HIGH,
    AlertEvaluator,
    AlertThresholds,
)
from sluicegate_observer.recent import RecentTraces

# One clean evaluation resolves here; the hysteresis tests set their own.
THRESHOLDS = AlertThresholds(
    window_seconds=300,
    min_requests=20,
    p95_latency_seconds=5.0,
    error_rate=0.01,
    cache_hit_rate=0.30,
    tokens_ratio=2.0,
    baseline_seconds=3600,
    cost_per_request_micros_usd=0,
    resolve_margin=0.0,
    clean_evaluations=1,
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


HYSTERESIS = dataclasses.replace(
    THRESHOLDS, cost_per_request_micros_usd=10_000, resolve_margin=0.1, clean_evaluations=3
)
# Healthy traffic: fast, cheap, 120 tokens a request, every lookup a cache hit.
HEALTHY = {"duration_seconds": 0.5, "cost_micros_usd": 30, "cache_outcome": "hit_exact"}


@pytest.mark.parametrize(
    ("rule", "subject", "unhealthy"),
    [
        (LATENCY_P95_HIGH, "gpt-4o-mini", {"duration_seconds": 8.0}),
        (TOKENS_PER_REQUEST_HIGH, "gpt-4o-mini", {"prompt_tokens": 1000}),
        (ERROR_RATE_HIGH, "gpt-4o-mini", {"status_code": "UNAVAILABLE"}),
        (COST_PER_REQUEST_HIGH, "all", {"cost_micros_usd": 50_000}),
        (CACHE_HIT_RATE_LOW, "all", {"cache_outcome": "miss"}),
        (
            BUDGET_SOFT_THRESHOLD,
            "tenant:acme:daily:2026-11-29",
            {"budgets_past_soft_threshold": ("tenant:acme:daily:2026-11-29",)},
        ),
    ],
)
def test_each_rule_fires_on_bad_traffic_and_resolves_after_clean_evaluations(
    traces, clock, make_record, rule, subject, unhealthy
):
    evaluator = AlertEvaluator(traces, HYSTERESIS, clock)
    _add(traces, [make_record(timestamp=clock.now, **HEALTHY) for _ in range(20)])
    assert evaluator.evaluate() == []

    clock.advance(301)
    _add(traces, [make_record(timestamp=clock.now, **{**HEALTHY, **unhealthy}) for _ in range(20)])
    fired = evaluator.evaluate()

    assert [(alert.rule, alert.subject, alert.is_firing) for alert in fired] == [(rule, subject, True)]
    assert fired[0].description

    clock.advance(301)
    _add(traces, [make_record(timestamp=clock.now, **HEALTHY) for _ in range(20)])
    assert evaluator.evaluate() == []
    assert evaluator.evaluate() == []
    [resolved] = evaluator.evaluate()

    assert (resolved.rule, resolved.is_firing, resolved.resolved_at) == (rule, False, clock.now)
    assert evaluator.alerts() == []


def test_a_value_inside_the_hysteresis_band_keeps_the_alert_firing(traces, clock, make_record):
    evaluator = AlertEvaluator(traces, HYSTERESIS, clock)
    _add(traces, [make_record(timestamp=clock.now, duration_seconds=8.0) for _ in range(20)])
    assert [alert.rule for alert in evaluator.evaluate()] == [LATENCY_P95_HIGH]

    clock.advance(301)
    _add(traces, [make_record(timestamp=clock.now, duration_seconds=4.8) for _ in range(20)])
    for _ in range(5):
        assert evaluator.evaluate() == []
    [alert] = evaluator.alerts()
    assert alert.value == pytest.approx(4.8)

    clock.advance(301)
    _add(traces, [make_record(timestamp=clock.now, duration_seconds=4.4) for _ in range(20)])
    assert [evaluator.evaluate() for _ in range(2)] == [[], []]
    assert [alert.is_firing for alert in evaluator.evaluate()] == [False]


def test_a_clean_evaluation_interrupted_by_a_breach_starts_counting_again(traces, clock, make_record):
    evaluator = AlertEvaluator(traces, HYSTERESIS, clock)
    _add(traces, [make_record(timestamp=clock.now, status_code="INTERNAL") for _ in range(20)])
    evaluator.evaluate()
    clock.advance(301)
    evaluator.evaluate()
    evaluator.evaluate()
    _add(traces, [make_record(timestamp=clock.now, status_code="INTERNAL") for _ in range(20)])
    evaluator.evaluate()
    clock.advance(301)

    assert [evaluator.evaluate() for _ in range(2)] == [[], []]
    assert [alert.rule for alert in evaluator.evaluate()] == [ERROR_RATE_HIGH]


def test_tokens_baseline_rolls_with_normal_traffic_and_freezes_while_firing(traces, clock, make_record):
    evaluator = AlertEvaluator(traces, HYSTERESIS, clock)
    _add(traces, [make_record(timestamp=clock.now, prompt_tokens=100, completion_tokens=0) for _ in range(20)])
    evaluator.evaluate()
    assert evaluator.baseline("gpt-4o-mini") == pytest.approx(100)

    clock.advance(3600)
    _add(traces, [make_record(timestamp=clock.now, prompt_tokens=180, completion_tokens=0) for _ in range(20)])
    assert evaluator.evaluate() == []
    # One time constant later the baseline has moved 1 - 1/e of the way to the new level.
    assert evaluator.baseline("gpt-4o-mini") == pytest.approx(100 + 80 * (1 - math.exp(-1)))
    learned = evaluator.baseline("gpt-4o-mini")

    clock.advance(3600)
    _add(traces, [make_record(timestamp=clock.now, prompt_tokens=1000, completion_tokens=0) for _ in range(20)])
    [alert] = evaluator.evaluate()
    assert (alert.rule, alert.threshold) == (TOKENS_PER_REQUEST_HIGH, pytest.approx(2 * learned))

    # Inside the hysteresis band the alert keeps firing, and the baseline must not learn the spike.
    clock.advance(3600)
    band = round(1.9 * learned)
    _add(traces, [make_record(timestamp=clock.now, prompt_tokens=band, completion_tokens=0) for _ in range(20)])
    assert evaluator.evaluate() == []
    assert [alert.rule for alert in evaluator.alerts()] == [TOKENS_PER_REQUEST_HIGH]
    assert evaluator.baseline("gpt-4o-mini") == pytest.approx(learned)
