"""The observer served on port 0: traces in over gRPC, metrics out over HTTP, admin-only queries, alerts."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from observer_harness import ADMIN, START, eventually, trace
from observer_harness import timestamp as _timestamp

from sluicegate.common.v1 import decision_pb2
from sluicegate.observer.v1 import observer_pb2
from sluicegate.runtime.errors import ServiceError
from sluicegate_observer.app import INGEST_SERVICE


async def test_recorded_traces_show_in_metrics_with_their_labels(observer):
    guarded = decision_pb2.DecisionRecord(
        guard_verdicts=[
            decision_pb2.GuardVerdict(
                stage=decision_pb2.GUARD_STAGE_INPUT,
                action=decision_pb2.GUARD_ACTION_BLOCK,
                findings=[
                    decision_pb2.Finding(category="role_play", score=0.4, action=decision_pb2.GUARD_ACTION_BLOCK),
                    decision_pb2.Finding(
                        category="instruction_override", score=0.9, action=decision_pb2.GUARD_ACTION_BLOCK
                    ),
                ],
            )
        ]
    )
    fallback = decision_pb2.DecisionRecord(
        cache=decision_pb2.CacheDecision(outcome=decision_pb2.CACHE_OUTCOME_MISS),
        attempts=[
            decision_pb2.Attempt(model="gpt-4o", outcome=decision_pb2.ATTEMPT_OUTCOME_RATE_LIMITED),
            decision_pb2.Attempt(model="gpt-4o", outcome=decision_pb2.ATTEMPT_OUTCOME_SERVER_ERROR),
            decision_pb2.Attempt(model="gpt-4o-mini", outcome=decision_pb2.ATTEMPT_OUTCOME_SUCCESS),
        ],
    )
    batch = [
        trace("r1", duration_ms=3.0),
        trace("r2", duration_ms=700.0, request_type=observer_pb2.REQUEST_TYPE_CHAT_STREAM, ttft_ms=120.0),
        trace("r3", status_code="PERMISSION_DENIED", error_reason="PROMPT_INJECTION", decision=guarded),
        trace("r4", tenant_id="globex", duration_ms=7000.0, decision=fallback),
        trace("r5", tenant_id="initech", cost_micros_usd=5),
    ]

    response = await observer.ingest.RecordTraces(observer_pb2.RecordTracesRequest(traces=batch))
    samples = await observer.samples()

    assert response.accepted == 5
    mini = ("model", "gpt-4o-mini")

    def requests(tenant: str, status: str, request_type: str, cache: str) -> float | None:
        labels = {mini, ("tenant", tenant), ("status_code", status), ("request_type", request_type), ("cache", cache)}
        return samples.get(("sluicegate_requests_total", frozenset(labels)))

    assert requests("acme", "OK", "chat", "unspecified") == 1
    assert requests("acme", "OK", "chat_stream", "unspecified") == 1
    assert requests("acme", "PERMISSION_DENIED", "chat", "unspecified") == 1
    assert requests("globex", "OK", "chat", "miss") == 1
    assert requests("other", "OK", "chat", "unspecified") == 1
    duration = {mini, ("tenant", "acme")}
    assert samples[("sluicegate_request_duration_seconds_count", frozenset(duration))] == 3
    assert samples[("sluicegate_request_duration_seconds_bucket", frozenset({*duration, ("le", "0.005")}))] == 1
    assert samples[("sluicegate_request_duration_seconds_bucket", frozenset({*duration, ("le", "0.25")}))] == 2
    assert samples[("sluicegate_request_duration_seconds_bucket", frozenset({*duration, ("le", "1.0")}))] == 3
    assert samples[("sluicegate_ttft_seconds_count", frozenset({mini}))] == 1
    assert samples[("sluicegate_ttft_seconds_sum", frozenset({mini}))] == pytest.approx(0.12)
    assert samples[("sluicegate_tokens_total", frozenset({mini, ("tenant", "acme"), ("direction", "cached")}))] == 30
    assert samples[("sluicegate_tokens_total", frozenset({mini, ("tenant", "acme"), ("direction", "prompt")}))] == 300
    assert samples[("sluicegate_cost_micros_usd_total", frozenset({mini, ("tenant", "other")}))] == 5
    assert samples[("sluicegate_cost_micros_usd_total", frozenset({mini, ("tenant", "acme")}))] == 135
    assert (
        samples[
            (
                "sluicegate_errors_total",
                frozenset({mini, ("status_code", "PERMISSION_DENIED"), ("reason", "PROMPT_INJECTION")}),
            )
        ]
        == 1
    )
    assert samples[("sluicegate_cache_lookups_total", frozenset({("outcome", "miss")}))] == 1
    assert (
        samples[
            ("sluicegate_guard_blocks_total", frozenset({("stage", "input"), ("category", "instruction_override")}))
        ]
        == 1
    )
    assert samples[("sluicegate_fallbacks_total", frozenset({("model", "gpt-4o")}))] == 2
    assert samples[("sluicegate_observer_traces_ingested_total", frozenset())] == 5


async def test_a_retried_batch_is_counted_once(observer):
    request = observer_pb2.RecordTracesRequest(traces=[trace("once")])

    assert (await observer.ingest.RecordTraces(request)).accepted == 1
    assert (await observer.ingest.RecordTraces(request)).accepted == 0
    samples = await observer.samples()
    assert samples[("sluicegate_observer_traces_ingested_total", frozenset())] == 1


async def test_decision_record_is_the_stored_trace(observer):
    stored = trace(
        "r-lookup",
        decision=decision_pb2.DecisionRecord(
            request_id="r-lookup",
            route=decision_pb2.RouteDecision(model="gpt-4o-mini", reason="cheapest capable deployment"),
            stages=[decision_pb2.StageTiming(stage="guard_input", duration_ms=2.5)],
        ),
    )
    await observer.ingest.RecordTraces(observer_pb2.RecordTracesRequest(traces=[stored]))

    response = await observer.query.GetDecisionRecord(
        observer_pb2.GetDecisionRecordRequest(request_id="r-lookup"), metadata=ADMIN
    )

    assert response.trace == stored
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await observer.query.GetDecisionRecord(
            observer_pb2.GetDecisionRecordRequest(request_id="never-seen"), metadata=ADMIN
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_ring_buffer_bound_evicts_the_oldest_decision_records(observer):
    batch = [trace(f"r{i}") for i in range(160)]
    response = await observer.ingest.RecordTraces(observer_pb2.RecordTracesRequest(traces=batch))

    assert response.accepted == 160
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await observer.query.GetDecisionRecord(observer_pb2.GetDecisionRecordRequest(request_id="r9"), metadata=ADMIN)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    kept = await observer.query.GetDecisionRecord(
        observer_pb2.GetDecisionRecordRequest(request_id="r10"), metadata=ADMIN
    )
    assert kept.trace.request_id == "r10"
    summary = await observer.query.GetMetricsSummary(
        observer_pb2.GetMetricsSummaryRequest(start_time=_timestamp(0)), metadata=ADMIN
    )
    assert summary.total.requests == 150


@pytest.mark.parametrize(
    ("method", "query"),
    [
        ("GetMetricsSummary", observer_pb2.GetMetricsSummaryRequest()),
        ("ListAlerts", observer_pb2.ListAlertsRequest()),
        ("GetDecisionRecord", observer_pb2.GetDecisionRecordRequest(request_id="r1")),
    ],
)
@pytest.mark.parametrize("metadata", [None, [("x-admin-token", "guess")]])
async def test_query_rpcs_need_the_admin_token(observer, method, query, metadata):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await getattr(observer.query, method)(query, metadata=metadata)

    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert ServiceError.from_rpc_error(caught.value).reason == "ADMIN_REQUIRED"


async def test_metrics_summary_groups_and_percentiles(observer):
    batch = [trace(f"fast-{ms}", duration_ms=float(ms), timestamp=_timestamp(START - 60)) for ms in range(1, 101)]
    batch += [
        trace("slow-ok", model="gpt-4o", duration_ms=4000.0, timestamp=_timestamp(START - 60)),
        trace(
            "slow-hit",
            model="gpt-4o",
            status_code="UNAVAILABLE",
            decision=decision_pb2.DecisionRecord(
                cache=decision_pb2.CacheDecision(outcome=decision_pb2.CACHE_OUTCOME_HIT_EXACT)
            ),
            timestamp=_timestamp(START - 60),
        ),
        trace("too-old", model="gpt-4o", timestamp=_timestamp(START - 7200)),
    ]
    await observer.ingest.RecordTraces(observer_pb2.RecordTracesRequest(traces=batch))

    response = await observer.query.GetMetricsSummary(
        observer_pb2.GetMetricsSummaryRequest(group_by=observer_pb2.SUMMARY_GROUP_MODEL), metadata=ADMIN
    )

    assert [(group.group, group.requests) for group in response.groups] == [("gpt-4o-mini", 100), ("gpt-4o", 2)]
    mini, big = response.groups
    assert mini.latency_p50_ms == pytest.approx(50.5)
    assert mini.latency_p95_ms == pytest.approx(95.05)
    assert mini.latency_p99_ms == pytest.approx(99.01)
    assert big.errors == 1
    assert big.error_rate == pytest.approx(0.5)
    assert big.cache_hits == 1
    assert big.cache_hit_rate == pytest.approx(0.5)
    assert response.total.requests == 102
    assert response.total.cost_micros_usd == 102 * 45


async def _alerts(observer, include_resolved: bool = False) -> list[observer_pb2.Alert]:
    response = await observer.query.ListAlerts(
        observer_pb2.ListAlertsRequest(include_resolved=include_resolved), metadata=ADMIN
    )
    return list(response.alerts)


async def test_alert_fires_on_slow_traffic_and_resolves_after_the_window(observer):
    slow = [trace(f"slow-{i}", model="gpt-4o", duration_ms=9000.0) for i in range(20)]
    await observer.ingest.RecordTraces(observer_pb2.RecordTracesRequest(traces=slow))

    async def firing() -> bool:
        return [(a.rule, a.subject, a.state) for a in await _alerts(observer)] == [
            ("latency_p95_high", "gpt-4o", observer_pb2.ALERT_STATE_FIRING)
        ]

    await eventually(firing)
    [alert] = await _alerts(observer)
    assert alert.value == pytest.approx(9.0)
    assert alert.threshold == 5.0
    assert alert.fired_at.seconds == int(START)
    gauge = ("sluicegate_alerts_firing", frozenset({("rule", "latency_p95_high"), ("subject", "gpt-4o")}))
    assert (await observer.samples())[gauge] == 1

    observer.clock[0] = START + 301

    async def resolved() -> bool:
        return not await _alerts(observer)

    await eventually(resolved)
    [cleared] = await _alerts(observer, include_resolved=True)
    assert cleared.state == observer_pb2.ALERT_STATE_RESOLVED
    assert cleared.resolved_at.seconds == int(START) + 301
    assert (await observer.samples())[gauge] == 0


async def test_error_rate_alert_fires(observer):
    batch = [trace(f"ok-{i}") for i in range(18)]
    batch += [trace(f"failed-{i}", status_code="UNAVAILABLE", error_reason="UPSTREAM_UNAVAILABLE") for i in range(2)]
    await observer.ingest.RecordTraces(observer_pb2.RecordTracesRequest(traces=batch))

    async def firing() -> bool:
        return [(a.rule, a.subject) for a in await _alerts(observer)] == [("error_rate_high", "gpt-4o-mini")]

    await eventually(firing)
    [alert] = await _alerts(observer)
    assert alert.value == pytest.approx(0.1)


async def test_bad_batch_is_rejected_and_nothing_is_kept(observer):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await observer.ingest.RecordTraces(
            observer_pb2.RecordTracesRequest(traces=[trace("fine"), trace("", duration_ms=1.0)])
        )

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    samples = await observer.samples()
    assert samples[("sluicegate_observer_traces_ingested_total", frozenset())] == 0


async def test_serving_once_http_is_up(observer):
    health = health_pb2_grpc.HealthStub(observer.channel)
    response = await health.Check(health_pb2.HealthCheckRequest(service=INGEST_SERVICE))

    assert response.status == health_pb2.HealthCheckResponse.SERVING
    assert await observer.http_get("/healthz") == (200, "ok\n")
