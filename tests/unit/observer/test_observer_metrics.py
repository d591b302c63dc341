"""Prometheus metrics from trace records: values, histogram buckets and bounded label values."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from sluicegate_observer.alerts import Alert
from sluicegate_observer.ingest import TraceIngestor
from sluicegate_observer.metrics import TraceMetrics
from sluicegate_observer.recent import RecentTraces
from sluicegate_observer.records import GuardBlock


@pytest.fixture
def metrics() -> TraceMetrics:
    return TraceMetrics(max_tenant_labels=2, max_label_values=2)


def _requests(metrics: TraceMetrics, **labels: str) -> float | None:
    defaults = {"model": "gpt-4o-mini", "tenant": "acme", "status_code": "OK", "request_type": "chat"}
    return metrics.registry.get_sample_value(
        "sluicegate_requests_total", {**defaults, "cache": "unspecified", **labels}
    )


def test_tenants_beyond_the_limit_fold_into_other(metrics, make_record):
    for tenant in ("acme", "globex", "initech", "umbrella", "acme"):
        metrics.observe(make_record(tenant=tenant))

    assert _requests(metrics, tenant="acme") == 2
    assert _requests(metrics, tenant="globex") == 1
    assert _requests(metrics, tenant="other") == 2
    assert _requests(metrics, tenant="initech") is None


def test_duration_histogram_buckets(metrics, make_record):
    for seconds in (0.004, 0.3, 7.0):
        metrics.observe(make_record(duration_seconds=seconds))

    def bucket(le: str) -> float | None:
        return metrics.registry.get_sample_value(
            "sluicegate_request_duration_seconds_bucket", {"model": "gpt-4o-mini", "tenant": "acme", "le": le}
        )

    assert bucket("0.005") == 1
    assert bucket("0.5") == 2
    assert bucket("5.0") == 2
    assert bucket("10.0") == 3
    assert bucket("60.0") == 3
    assert bucket("+Inf") == 3
    assert metrics.registry.get_sample_value(
        "sluicegate_request_duration_seconds_sum", {"model": "gpt-4o-mini", "tenant": "acme"}
    ) == pytest.approx(7.304)


def test_errors_cache_guard_fallbacks_and_ttft(metrics, make_record):
    metrics.observe(
        make_record(status_code="RESOURCE_EXHAUSTED", error_reason="BUDGET_EXCEEDED", cache_outcome="skipped")
    )
    metrics.observe(make_record(status_code="weird", error_reason="MADE_UP", cache_outcome="miss"))
    metrics.observe(
        make_record(
            status_code="PERMISSION_DENIED",
            error_reason="PROMPT_INJECTION",
            guard_blocks=(GuardBlock("input", "instruction_override"),),
            cache_outcome="hit_semantic",
        )
    )
    metrics.observe(make_record(request_type="chat_stream", ttft_seconds=0.12, fallbacks=2))
    sample = metrics.registry.get_sample_value

    assert (
        sample(
            "sluicegate_errors_total",
            {"model": "gpt-4o-mini", "status_code": "RESOURCE_EXHAUSTED", "reason": "BUDGET_EXCEEDED"},
        )
        == 1
    )
    assert sample("sluicegate_errors_total", {"model": "gpt-4o-mini", "status_code": "UNKNOWN", "reason": "other"}) == 1
    assert sample("sluicegate_cache_lookups_total", {"outcome": "miss"}) == 1
    assert sample("sluicegate_cache_lookups_total", {"outcome": "hit_semantic"}) == 1
    assert sample("sluicegate_cache_lookups_total", {"outcome": "skipped"}) is None
    assert sample("sluicegate_guard_blocks_total", {"stage": "input", "category": "instruction_override"}) == 1
    assert sample("sluicegate_fallbacks_total", {"model": "gpt-4o-mini"}) == 2
    assert sample("sluicegate_ttft_seconds_count", {"model": "gpt-4o-mini"}) == 1
    assert sample("sluicegate_tokens_total", {"model": "gpt-4o-mini", "tenant": "acme", "direction": "prompt"}) == 400
    assert sample("sluicegate_cost_micros_usd_total", {"model": "gpt-4o-mini", "tenant": "acme"}) == 120


def test_alert_gauge_follows_fire_and_resolve(metrics):
    firing = Alert("latency_p95_high", "gpt-4o", 7.0, 5.0, "slow", fired_at=1.0)
    labels = {"rule": "latency_p95_high", "subject": "gpt-4o"}

    metrics.publish_alerts([firing])
    assert metrics.registry.get_sample_value("sluicegate_alerts_firing", labels) == 1

    metrics.publish_alerts([Alert("latency_p95_high", "gpt-4o", 7.0, 5.0, "slow", fired_at=1.0, resolved_at=2.0)])
    assert metrics.registry.get_sample_value("sluicegate_alerts_firing", labels) == 0


def test_metrics_stay_out_of_the_global_registry(metrics, make_record):
    metrics.observe(make_record())

    assert REGISTRY.get_sample_value("sluicegate_observer_traces_ingested_total") is None
    assert metrics.registry.get_sample_value("sluicegate_observer_traces_ingested_total") == 1


def test_ingest_stamps_missing_times_and_counts_a_retried_trace_once(metrics, clock, make_record):
    traces = RecentTraces(capacity=10)
    ingestor = TraceIngestor(traces, metrics, clock)
    batch = [make_record(request_id="a", timestamp=0.0), make_record(request_id="b")]

    assert ingestor.ingest(batch) == 2
    assert ingestor.ingest(batch) == 0
    assert traces.get("a").timestamp == clock.now
    assert metrics.registry.get_sample_value("sluicegate_observer_traces_ingested_total") == 2


def test_traces_a_sender_dropped_are_counted_by_sender(metrics):
    ingestor = TraceIngestor(RecentTraces(capacity=10), metrics, clock=lambda: 0.0)
    ingestor.sender_report("orchestrator", 3, queue_depth=40)
    ingestor.sender_report("orchestrator", 0, queue_depth=12)
    ingestor.sender_report("orchestrator", 2, queue_depth=7)
    assert metrics.registry.get_sample_value("sluicegate_traces_dropped_total", {"sender": "orchestrator"}) == 5
    assert metrics.registry.get_sample_value("sluicegate_trace_queue_depth", {"sender": "orchestrator"}) == 7


def test_latency_by_deployment_and_budget_use_per_budget(metrics, make_record):
    metrics.observe(make_record(deployment="openai-gpt-4o-mini", duration_seconds=0.3))
    metrics.observe(make_record(budget_use=(("tenant:acme:daily", 0.25),)))
    metrics.observe(make_record(budget_use=(("tenant:acme:daily", 0.4),)))
    count = metrics.registry.get_sample_value(
        "sluicegate_deployment_request_duration_seconds_count",
        {"deployment": "openai-gpt-4o-mini", "request_type": "chat"},
    )
    assert count == 3
    assert metrics.registry.get_sample_value("sluicegate_budget_used_ratio", {"budget": "tenant:acme:daily"}) == 0.4


def test_a_bucket_is_named_by_its_budget_not_its_day():
    from sluicegate.observer.v1 import observer_pb2
    from sluicegate_observer.servicer import record_from_trace

    trace = observer_pb2.RequestTrace(request_id="r1", status_code="OK")
    trace.decision.budget.buckets.add(
        bucket="tenant:acme:daily:2026-11-29", remaining_micros_usd=750, limit_micros_usd=1000
    )
    trace.decision.budget.buckets.add(bucket="key:k1:lifetime", remaining_micros_usd=5, limit_micros_usd=0)
    assert record_from_trace(trace).budget_use == (("tenant:acme:daily", 0.25),)
