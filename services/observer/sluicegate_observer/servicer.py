"""The observer's gRPC servicers: convert protos to and from the domain objects, nothing else."""

from __future__ import annotations

import dataclasses

import grpc
from google.protobuf import timestamp_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.rpc import error_details_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from sluicegate.common.v1 import decision_pb2, errors_pb2
from sluicegate.observer.v1 import observer_pb2, observer_pb2_grpc
from sluicegate.runtime.auth import AdminCheck
from sluicegate.runtime.errors import ServiceError, error_info
from sluicegate_observer.alerts import Alert, AlertEvaluator
from sluicegate_observer.ingest import TraceIngestor
from sluicegate_observer.otlp import genai_traces
from sluicegate_observer.recent import RecentTraces
from sluicegate_observer.records import GuardBlock, TraceRecord
from sluicegate_observer.summary import GroupBy, GroupSummary, Summarizer

GROUP_BY = {
    observer_pb2.SUMMARY_GROUP_UNSPECIFIED: GroupBy.MODEL,
    observer_pb2.SUMMARY_GROUP_MODEL: GroupBy.MODEL,
    observer_pb2.SUMMARY_GROUP_TENANT: GroupBy.TENANT,
    observer_pb2.SUMMARY_GROUP_DEPLOYMENT: GroupBy.DEPLOYMENT,
}


def _enum_label(enum_type: EnumTypeWrapper, value: int, prefix: str) -> str:
    """`CACHE_OUTCOME_HIT_EXACT` -> "hit_exact"; a value this build does not know is "unspecified"."""
    described = enum_type.DESCRIPTOR.values_by_number.get(value)
    return described.name.removeprefix(prefix).lower() if described else "unspecified"


def _guard_block(verdict: decision_pb2.GuardVerdict) -> GuardBlock:
    """The verdict's strongest blocking finding names the category (any finding, if none is marked blocking)."""
    blocking = [f for f in verdict.findings if f.action == decision_pb2.GUARD_ACTION_BLOCK] or list(verdict.findings)
    category = "unspecified"
    if blocking:
        strongest = max(blocking, key=lambda finding: finding.score)
        category = strongest.category or _enum_label(decision_pb2.FindingKind, strongest.kind, "FINDING_KIND_")
    return GuardBlock(stage=_enum_label(decision_pb2.GuardStage, verdict.stage, "GUARD_STAGE_"), category=category)


def record_from_trace(trace: observer_pb2.RequestTrace) -> TraceRecord:
    decision = trace.decision
    attempts = decision.attempts
    return TraceRecord(
        request_id=trace.request_id,
        timestamp=trace.timestamp.ToNanoseconds() / 1e9 if trace.HasField("timestamp") else 0.0,
        tenant=trace.tenant_id,
        model=trace.model,
        deployment=trace.deployment,
        duration_seconds=trace.duration_ms / 1000,
        ttft_seconds=trace.ttft_ms / 1000,
        prompt_tokens=trace.usage.prompt_tokens,
        completion_tokens=trace.usage.completion_tokens,
        cached_tokens=trace.usage.cached_prompt_tokens,
        cost_micros_usd=trace.cost_micros_usd,
        status_code=trace.status_code,
        error_reason=trace.error_reason,
        request_type=_enum_label(observer_pb2.RequestType, trace.request_type, "REQUEST_TYPE_"),
        cache_outcome=_enum_label(decision_pb2.CacheOutcome, decision.cache.outcome, "CACHE_OUTCOME_"),
        guard_blocks=tuple(
            _guard_block(verdict)
            for verdict in decision.guard_verdicts
            if verdict.action == decision_pb2.GUARD_ACTION_BLOCK
        ),
        first_choice_model=attempts[0].model if attempts else trace.model,
        fallbacks=max(len(attempts) - 1, 0),
        serialized_trace=trace.SerializeToString(),
        budgets_past_soft_threshold=tuple(
            bucket.bucket for bucket in decision.budget.buckets if bucket.soft_threshold_reached
        ),
        budget_use=tuple(
            (_budget_name(bucket.bucket), 1 - bucket.remaining_micros_usd / bucket.limit_micros_usd)
            for bucket in decision.budget.buckets
            if bucket.limit_micros_usd > 0
        ),
    )


def _budget_name(bucket: str) -> str:
    """ "tenant:acme:daily:2026-11-29" -> "tenant:acme:daily": one series per budget, not one per day."""
    scope, _, window_start = bucket.rpartition(":")
    return scope if scope and window_start[:1].isdigit() else bucket


def _timestamp(epoch_seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(round(epoch_seconds * 1e9))
    return stamp


def _optional_seconds(stamp: timestamp_pb2.Timestamp, present: bool) -> float | None:
    return stamp.ToNanoseconds() / 1e9 if present else None


def _summary_proto(summary: GroupSummary) -> observer_pb2.MetricsSummary:
    return observer_pb2.MetricsSummary(**dataclasses.asdict(summary))


def _alert_proto(alert: Alert) -> observer_pb2.Alert:
    proto = observer_pb2.Alert(
        rule=alert.rule,
        subject=alert.subject,
        state=observer_pb2.ALERT_STATE_FIRING if alert.is_firing else observer_pb2.ALERT_STATE_RESOLVED,
        value=alert.value,
        threshold=alert.threshold,
        description=alert.description,
        fired_at=_timestamp(alert.fired_at),
    )
    if alert.resolved_at is not None:
        proto.resolved_at.CopyFrom(_timestamp(alert.resolved_at))
    return proto


class ObserverServicer(observer_pb2_grpc.ObserverServiceServicer):
    """RecordTraces: the orchestrator's trace batches, off the request path."""

    def __init__(self, ingestor: TraceIngestor) -> None:
        self._ingestor = ingestor

    async def RecordTraces(self, request, context):
        self._ingestor.sender_report(request.sender, request.dropped_traces, request.sender_queue_depth)
        accepted = self._ingestor.ingest(record_from_trace(trace) for trace in request.traces)
        return observer_pb2.RecordTracesResponse(accepted=accepted)


class ObserverQueryServicer(observer_pb2_grpc.ObserverQueryServiceServicer):
    """Operators' queries; every call needs the admin credential."""

    def __init__(
        self, admin: AdminCheck, traces: RecentTraces, summarizer: Summarizer, evaluator: AlertEvaluator
    ) -> None:
        self._admin = admin
        self._traces = traces
        self._summarizer = summarizer
        self._evaluator = evaluator

    async def GetMetricsSummary(self, request, context):
        self._admin.require(context)
        summary = self._summarizer.summarize(
            _optional_seconds(request.start_time, request.HasField("start_time")),
            _optional_seconds(request.end_time, request.HasField("end_time")),
            GROUP_BY.get(request.group_by, GroupBy.MODEL),
        )
        return observer_pb2.GetMetricsSummaryResponse(
            groups=[_summary_proto(group) for group in summary.groups], total=_summary_proto(summary.total)
        )

    async def ListAlerts(self, request, context):
        self._admin.require(context)
        alerts = self._evaluator.alerts(include_resolved=request.include_resolved)
        return observer_pb2.ListAlertsResponse(alerts=[_alert_proto(alert) for alert in alerts])

    async def GetDecisionRecord(self, request, context):
        self._admin.require(context)
        record = self._traces.get(request.request_id)
        if record is None:
            raise ServiceError(
                grpc.StatusCode.NOT_FOUND,
                f"no trace for request {request.request_id!r} among the recent traces",
                [
                    error_info(errors_pb2.ERROR_REASON_RECORD_UNKNOWN, {"request_id": request.request_id}),
                    error_details_pb2.ResourceInfo(
                        resource_type="sluicegate.observer.v1.RequestTrace",
                        resource_name=request.request_id,
                        description="unknown, or evicted from the in-memory ring buffer",
                    ),
                ],
            )
        return observer_pb2.GetDecisionRecordResponse(
            trace=observer_pb2.RequestTrace.FromString(record.serialized_trace)
        )


class OtlpTraceServicer(trace_service_pb2_grpc.TraceServiceServicer):
    """OTLP/gRPC trace export: GenAI spans become request traces; other spans are accepted and ignored."""

    def __init__(self, ingestor: TraceIngestor) -> None:
        self._ingestor = ingestor

    async def Export(self, request, context):
        self._ingestor.ingest(record_from_trace(trace) for trace in genai_traces(request))
        return trace_service_pb2.ExportTraceServiceResponse()
