"""Wiring: builds the observer's domain objects, its HTTP metrics server, alert loop and servicers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from sluicegate.observer.v1 import observer_pb2, observer_pb2_grpc
from sluicegate.runtime.auth import AdminCheck
from sluicegate.runtime.server import ServiceApp
from sluicegate_observer.alerts import AlertEvaluator, AlertThresholds
from sluicegate_observer.dashboard import DashboardData
from sluicegate_observer.ingest import TraceIngestor
from sluicegate_observer.metrics import TraceMetrics
from sluicegate_observer.metrics_http import MetricsHttpServer
from sluicegate_observer.notify import WebhookNotifier
from sluicegate_observer.otlp import OTLP_TRACE_SERVICE
from sluicegate_observer.recent import RecentTraces
from sluicegate_observer.servicer import ObserverQueryServicer, ObserverServicer, OtlpTraceServicer
from sluicegate_observer.settings import ObserverSettings
from sluicegate_observer.summary import Summarizer
from sluicegate_observer.validation import (
    record_traces_validator,
    validate_decision_record,
    validate_metrics_summary,
)

INGEST_SERVICE = "sluicegate.observer.v1.ObserverService"
QUERY_SERVICE = "sluicegate.observer.v1.ObserverQueryService"


@dataclass(frozen=True)
class ObserverParts:
    """What a build made, so tests and the benchmark can reach the HTTP port and drive alert evaluation."""

    traces: RecentTraces
    metrics: TraceMetrics
    evaluator: AlertEvaluator
    http: MetricsHttpServer


async def evaluate_alerts_forever(
    evaluator: AlertEvaluator,
    metrics: TraceMetrics,
    notifier: WebhookNotifier | None,
    interval_seconds: float,
) -> None:
    while True:
        changed = evaluator.evaluate()
        metrics.publish_alerts(changed)
        if notifier is not None:
            notifier.notify(changed)
        await asyncio.sleep(interval_seconds)


def alert_thresholds(settings: ObserverSettings) -> AlertThresholds:
    return AlertThresholds(
        window_seconds=settings.alert_window_seconds,
        min_requests=settings.alert_min_requests,
        p95_latency_seconds=settings.alert_p95_latency_seconds,
        error_rate=settings.alert_error_rate,
        cache_hit_rate=settings.alert_cache_hit_rate,
        tokens_ratio=settings.alert_tokens_ratio,
        baseline_seconds=settings.alert_baseline_seconds,
        cost_per_request_micros_usd=settings.alert_budget_micros_usd / settings.alert_expected_requests,
        resolve_margin=settings.alert_resolve_margin,
        clean_evaluations=settings.alert_clean_evaluations,
    )


class ObserverBuild:
    """The runtime's build step for the observer, with the clock (epoch seconds) injectable for tests."""

    def __init__(self, settings: ObserverSettings, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._clock = clock
        self.parts: ObserverParts | None = None

    async def __call__(self, app: ServiceApp) -> None:
        settings, clock = self._settings, self._clock
        traces = RecentTraces(settings.recent_traces)
        metrics = TraceMetrics(settings.max_tenant_labels, settings.max_label_values)
        evaluator = AlertEvaluator(traces, alert_thresholds(settings), clock)
        notifier = None
        if settings.alert_webhook_url:
            notifier = WebhookNotifier(
                settings.alert_webhook_url,
                metrics.count_notification,
                settings.alert_webhook_timeout_seconds,
                settings.alert_webhook_retries,
                settings.alert_webhook_backoff_seconds,
            )
            app.spawn(notifier.run())
        http = MetricsHttpServer(
            metrics, DashboardData(traces, evaluator, clock), settings.metrics_host, settings.metrics_port
        )
        await http.start()
        app.on_shutdown(http.stop)

        async def http_serving() -> bool:
            return http.serving

        app.add_readiness_check("metrics_http", http_serving)
        ingestor = TraceIngestor(traces, metrics, clock)
        app.add_servicer(
            observer_pb2_grpc.add_ObserverServiceServicer_to_server, ObserverServicer(ingestor), INGEST_SERVICE
        )
        app.add_servicer(
            trace_service_pb2_grpc.add_TraceServiceServicer_to_server, OtlpTraceServicer(ingestor), OTLP_TRACE_SERVICE
        )
        app.add_servicer(
            observer_pb2_grpc.add_ObserverQueryServiceServicer_to_server,
            ObserverQueryServicer(AdminCheck(settings.admin_token), traces, Summarizer(traces, clock), evaluator),
            QUERY_SERVICE,
        )
        app.add_validator(observer_pb2.RecordTracesRequest, record_traces_validator(settings.max_batch_traces))
        app.add_validator(observer_pb2.GetMetricsSummaryRequest, validate_metrics_summary)
        app.add_validator(observer_pb2.GetDecisionRecordRequest, validate_decision_record)
        app.spawn(evaluate_alerts_forever(evaluator, metrics, notifier, settings.alert_interval_seconds))
        self.parts = ObserverParts(traces=traces, metrics=metrics, evaluator=evaluator, http=http)


def make_build(settings: ObserverSettings, clock: Callable[[], float] = time.time) -> ObserverBuild:
    return ObserverBuild(settings, clock)
