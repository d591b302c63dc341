"""Metric summaries: percentiles from buffered durations, counts, rates and totals per group and time range."""

from __future__ import annotations

import pytest

from sluicegate_observer.recent import RecentTraces
from sluicegate_observer.summary import GroupBy, Summarizer, percentile


def _summarizer(clock, records) -> Summarizer:
    traces = RecentTraces(capacity=1_000)
    for record in records:
        traces.add(record)
    return Summarizer(traces, clock)


def test_percentiles_interpolate_between_ranks():
    values = [float(ms) for ms in range(1, 101)]

    assert percentile(values, 0.50) == pytest.approx(50.5)
    assert percentile(values, 0.95) == pytest.approx(95.05)
    assert percentile(values, 0.99) == pytest.approx(99.01)
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) == 0.0


def test_summary_per_model_from_known_durations(clock, make_record):
    fast = [make_record(model="fast", duration_seconds=ms / 1000, timestamp=clock.now - 60) for ms in range(1, 101)]
    slow = [
        make_record(model="slow", duration_seconds=2.0, status_code="UNAVAILABLE", timestamp=clock.now - 60),
        make_record(model="slow", duration_seconds=4.0, cache_outcome="hit_exact", timestamp=clock.now - 60),
        make_record(model="slow", duration_seconds=6.0, cache_outcome="hit_semantic", timestamp=clock.now - 60),
        make_record(model="slow", duration_seconds=8.0, cache_outcome="skipped", timestamp=clock.now - 60),
    ]

    summary = _summarizer(clock, fast + slow).summarize(None, None, GroupBy.MODEL)

    assert [group.group for group in summary.groups] == ["fast", "slow"]
    fast_summary, slow_summary = summary.groups
    assert fast_summary.requests == 100
    assert fast_summary.latency_p50_ms == pytest.approx(50.5)
    assert fast_summary.latency_p95_ms == pytest.approx(95.05)
    assert fast_summary.latency_p99_ms == pytest.approx(99.01)
    assert fast_summary.errors == 0
    assert fast_summary.prompt_tokens == 100 * 100
    assert fast_summary.cost_micros_usd == 100 * 30
    assert slow_summary.errors == 1
    assert slow_summary.error_rate == pytest.approx(0.25)
    assert slow_summary.cache_hits == 2
    assert slow_summary.cache_hit_rate == pytest.approx(0.5)
    assert slow_summary.latency_p50_ms == pytest.approx(5000.0)
    assert summary.total.requests == 104
    assert summary.total.errors == 1
    assert summary.total.completion_tokens == 104 * 20


def test_summary_only_counts_the_time_range(clock, make_record):
    records = [
        make_record(tenant="old", timestamp=clock.now - 7200),
        make_record(tenant="recent", timestamp=clock.now - 1800),
        make_record(tenant="recent", timestamp=clock.now - 10),
        make_record(tenant="", timestamp=clock.now - 10),
    ]
    summarizer = _summarizer(clock, records)

    last_hour = summarizer.summarize(None, None, GroupBy.TENANT)
    narrow = summarizer.summarize(clock.now - 3600, clock.now - 60, GroupBy.TENANT)
    everything = summarizer.summarize(0, clock.now + 1, GroupBy.TENANT)

    assert [(group.group, group.requests) for group in last_hour.groups] == [("recent", 2), ("unknown", 1)]
    assert [(group.group, group.requests) for group in narrow.groups] == [("recent", 1)]
    assert everything.total.requests == 4


def test_summary_by_deployment(clock, make_record):
    records = [make_record(deployment="azure-a"), make_record(deployment="azure-a"), make_record(deployment="oai")]
    summary = _summarizer(clock, records).summarize(0, clock.now + 1, GroupBy.DEPLOYMENT)

    assert [(group.group, group.requests) for group in summary.groups] == [("azure-a", 2), ("oai", 1)]
