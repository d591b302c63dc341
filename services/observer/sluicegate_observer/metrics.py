"""TraceMetrics: the Prometheus metrics the observer exports, in a registry of its own, with bounded labels."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

from sluicegate.common.v1 import errors_pb2
from sluicegate.runtime.errors import reason_name
from sluicegate_observer.alerts import Alert
from sluicegate_observer.records import UNKNOWN, TraceRecord

# LLM calls range from a few milliseconds (cache hits) to about a minute (long generations).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
OTHER = "other"
NO_REASON = "none"
STATUS_CODES = frozenset(code.name for code in grpc.StatusCode)
ERROR_REASONS = frozenset(reason_name(value) for value in errors_pb2.ErrorReason.values())


class LabelFolder:
    """Admits the first `limit` distinct values of a label; later ones become "other", bounding cardinality."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._admitted: set[str] = set()

    def __call__(self, value: str) -> str:
        value = value or UNKNOWN
        if value in self._admitted:
            return value
        if len(self._admitted) < self._limit:
            self._admitted.add(value)
            return value
        return OTHER


def _status_label(status_code: str) -> str:
    return status_code if status_code in STATUS_CODES else "UNKNOWN"


def _reason_label(reason: str) -> str:
    if not reason:
        return NO_REASON
    return reason if reason in ERROR_REASONS else OTHER


class TraceMetrics:
    """Counts every ingested trace into Prometheus metrics and renders them in the text or OpenMetrics format.

    Tenants beyond `max_tenant_labels`, and models or guard categories beyond `max_label_values`, fold into
    "other"; status codes and error reasons outside gRPC's and sluicegate's lists fold too, so a careless or
    hostile caller cannot blow up the series count.
    """

    def __init__(self, max_tenant_labels: int, max_label_values: int) -> None:
        self.registry = CollectorRegistry()
        self._tenants = LabelFolder(max_tenant_labels)
        self._models = LabelFolder(max_label_values)
        self._deployments = LabelFolder(max_label_values)
        self._budgets = LabelFolder(max_tenant_labels)
        self._categories = LabelFolder(max_label_values)
        registry = self.registry

        def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
            return Counter(name, documentation, labels, registry=registry)

        def latency_histogram(name: str, documentation: str, labels: Sequence[str]) -> Histogram:
            return Histogram(name, documentation, labels, buckets=LATENCY_BUCKETS, registry=registry)

        self._requests = counter(
            "sluicegate_requests",
            "Gateway requests by model, tenant, status, request type and cache outcome.",
            ["model", "tenant", "status_code", "request_type", "cache"],
        )
        self._deployment_duration = latency_histogram(
            "sluicegate_deployment_request_duration_seconds",
            "Gateway wall time per request, by the deployment that answered and the request type (route).",
            ["deployment", "request_type"],
        )
        self._budget_use = Gauge(
            "sluicegate_budget_used_ratio",
            "Share of a budget's limit spent or reserved, as metering reported at the latest reservation.",
            ["budget"],
            registry=registry,
        )
        self._duration = latency_histogram(
            "sluicegate_request_duration_seconds", "Gateway wall time per request.", ["model", "tenant"]
        )
        self._ttft = latency_histogram(
            "sluicegate_ttft_seconds", "Time to the first token sent to the client, for streams.", ["model"]
        )
        self._tokens = counter(
            "sluicegate_tokens",
            "Tokens used; direction is prompt, completion or cached (prompt tokens served from the provider's cache).",
            ["model", "tenant", "direction"],
        )
        self._cost = counter("sluicegate_cost_micros_usd", "Money charged, in micro-USD.", ["model", "tenant"])
        self._errors = counter(
            "sluicegate_errors",
            "Failed requests by status code and ErrorInfo reason.",
            ["model", "status_code", "reason"],
        )
        self._cache_lookups = counter(
            "sluicegate_cache_lookups",
            "Cache lookups by outcome (requests that skipped the cache are not lookups).",
            ["outcome"],
        )
        self._guard_blocks = counter(
            "sluicegate_guard_blocks",
            "Requests the guard blocked, by stage and the blocking finding's category.",
            ["stage", "category"],
        )
        self._fallbacks = counter(
            "sluicegate_fallbacks", "Provider attempts beyond the first, by the model first tried.", ["model"]
        )
        self._ingested = counter("sluicegate_observer_traces_ingested", "Traces the observer has ingested.")
        self._queue_depth = Gauge(
            "sluicegate_trace_queue_depth",
            "Traces waiting in a sender's queue when it sent its latest batch.",
            ["sender"],
            registry=registry,
        )
        self._dropped = counter(
            "sluicegate_traces_dropped",
            "Traces senders dropped before they reached the observer (reported with their next batch).",
            ["sender"],
        )
        self._notifications = counter(
            "sluicegate_observer_alert_notifications",
            "Alert changes for the webhook: sent, failed (after every retry) or dropped (queue full).",
            ["outcome"],
        )
        self._alerts_firing = Gauge(
            "sluicegate_alerts_firing",
            "1 while an alert fires, 0 once it resolved.",
            ["rule", "subject"],
            registry=registry,
        )

    def count_dropped(self, sender: str, dropped: int) -> None:
        self._dropped.labels(sender or "unknown").inc(dropped)

    def sender_queue_depth(self, sender: str, depth: int) -> None:
        self._queue_depth.labels(sender or "unknown").set(depth)

    def observe(self, record: TraceRecord) -> None:
        model = self._models(record.model)
        tenant = self._tenants(record.tenant)
        status_code = _status_label(record.status_code)
        self._requests.labels(model, tenant, status_code, record.request_type, record.cache_outcome).inc()
        self._duration.labels(model, tenant).observe(record.duration_seconds)
        if record.deployment:
            self._deployment_duration.labels(self._deployments(record.deployment), record.request_type).observe(
                record.duration_seconds
            )
        for budget, used in record.budget_use:
            self._budget_use.labels(self._budgets(budget)).set(used)
        if record.ttft_seconds > 0:
            self._ttft.labels(model).observe(record.ttft_seconds)
        self._tokens.labels(model, tenant, "prompt").inc(record.prompt_tokens)
        self._tokens.labels(model, tenant, "completion").inc(record.completion_tokens)
        self._tokens.labels(model, tenant, "cached").inc(record.cached_tokens)
        self._cost.labels(model, tenant).inc(record.cost_micros_usd)
        if record.is_error:
            self._errors.labels(model, status_code, _reason_label(record.error_reason)).inc()
        if record.is_cache_lookup:
            self._cache_lookups.labels(record.cache_outcome).inc()
        for block in record.guard_blocks:
            self._guard_blocks.labels(block.stage, self._categories(block.category)).inc()
        if record.fallbacks:
            self._fallbacks.labels(self._models(record.first_choice_model)).inc(record.fallbacks)
        self._ingested.inc()

    def publish_alerts(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            self._alerts_firing.labels(alert.rule, alert.subject).set(1 if alert.is_firing else 0)

    def count_notification(self, outcome: str) -> None:
        self._notifications.labels(outcome).inc()

    def render(self, accept_header: str | None) -> tuple[bytes, str]:
        """The exposition the scraper asked for (OpenMetrics or the classic text format) and its content type."""
        encoder, content_type = choose_encoder(accept_header)
        return encoder(self.registry), content_type
