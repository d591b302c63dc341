"""OpenTelemetry set-up: W3C trace context on every hop, spans exported over OTLP only when configured."""

from __future__ import annotations

import os
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import Tracer


def configure_tracing(service: str) -> None:
    """Installs an SDK tracer provider exporting to OTEL_EXPORTER_OTLP_ENDPOINT when it is set.

    Without an endpoint the API's no-op provider stays: context still propagates (the W3C
    `traceparent` of the caller is passed on to every downstream call) at almost no cost.
    """
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not endpoint:
        return
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"sluicegate-{service}"}))
    timeout = float(os.environ.get("OTEL_EXPORTER_OTLP_TIMEOUT", "2"))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=timeout)))
    trace.set_tracer_provider(provider)


def get_tracer(name: str) -> Tracer:
    return trace.get_tracer(name)


def context_from_metadata(metadata: Sequence[tuple[str, str | bytes]] | None):
    """The caller's trace context from gRPC metadata (W3C `traceparent` / `tracestate`)."""
    carrier = {key: value for key, value in metadata or () if isinstance(value, str)}
    return extract(carrier)


def inject_into(metadata: list[tuple[str, str]]) -> None:
    """Adds the current trace context to outgoing gRPC metadata."""
    carrier: dict[str, str] = {}
    inject(carrier)
    metadata.extend(carrier.items())


def current_trace_id() -> str:
    """The current W3C trace id in hex, or "" when there is none."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.trace_id else ""
