"""OTLP/gRPC ingest: GenAI spans exported by the OpenTelemetry SDK become the observer's request metrics."""

from __future__ import annotations

import asyncio

from observer_harness import ADMIN, observer_serving
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from sluicegate.observer.v1 import observer_pb2


def export_genai_spans(address: str) -> SpanExportResult:
    """Two chat spans and an unrelated span from an app called `support-bot`, sent by the OTLP exporter."""
    finished = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(finished))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 48,
            }
        )
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "error.type": "rate_limit_exceeded",
            }
        )
        span.set_status(Status(StatusCode.ERROR))
    with tracer.start_as_current_span("GET /healthz"):
        pass
    exporter = OTLPSpanExporter(endpoint=address, insecure=True, timeout=5)
    try:
        return exporter.export(finished.get_finished_spans())
    finally:
        exporter.shutdown()


async def test_genai_spans_exported_over_otlp_feed_the_metrics_and_summaries():
    # On the real clock: the SDK stamps spans with the time they ran.
    async with observer_serving() as observer:
        result = await asyncio.to_thread(export_genai_spans, observer.running.address)
        samples = await observer.samples()
        summary = await observer.query.GetMetricsSummary(
            observer_pb2.GetMetricsSummaryRequest(group_by=observer_pb2.SUMMARY_GROUP_DEPLOYMENT), metadata=ADMIN
        )

    assert result == SpanExportResult.SUCCESS
    answered = {("model", "gpt-4o-2024-08-06"), ("tenant", "support-bot")}
    assert samples[("sluicegate_tokens_total", frozenset({*answered, ("direction", "prompt")}))] == 120
    assert samples[("sluicegate_tokens_total", frozenset({*answered, ("direction", "completion")}))] == 48
    assert samples[("sluicegate_request_duration_seconds_count", frozenset(answered))] == 1
    failed = {("model", "gpt-4o"), ("status_code", "UNKNOWN"), ("reason", "other")}
    assert samples[("sluicegate_errors_total", frozenset(failed))] == 1
    assert samples[("sluicegate_observer_traces_ingested_total", frozenset())] == 2
    assert [(group.group, group.requests, group.errors) for group in summary.groups] == [("openai", 2, 1)]
