"""OpenTelemetry set-up: W3C trace context on every hop, spans exported over OTLP only when configured."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import extract, get_global_textmap, inject
from opentelemetry.trace import Tracer

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider


# A co-located process's hosted services, each with a provider of its own (see `install_tracer_providers`).
_SERVICE_PROVIDERS: dict[str, TracerProvider] = {}


def configure_tracing(process: str, services: Sequence[str] = ()) -> None:
    """Installs SDK tracer providers exporting to OTEL_EXPORTER_OTLP_ENDPOINT when it is set (see
    `install_tracer_providers`; `services` are the ones a co-located process hosts).

    Without an endpoint the API's no-op provider stays: context still propagates (the W3C
    `traceparent` of the caller is passed on to every downstream call) at almost no cost.
    """
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not endpoint:
        return
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    timeout = float(os.environ.get("OTEL_EXPORTER_OTLP_TIMEOUT", "2"))
    install_tracer_providers(
        process, services, BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=timeout))
    )


def install_tracer_providers(process: str, services: Sequence[str], processor: SpanProcessor) -> None:
    """The process's provider (resource `service.name` "sluicegate-<process>") becomes the global one; each of
    `services` gets its own ("sluicegate-<service>"), sharing `processor`, so that a tracing backend files a
    co-located router's spans under the router, as it would a router running alone."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    def provider(name: str, shutdown_on_exit: bool) -> TracerProvider:
        made = TracerProvider(
            resource=Resource.create({"service.name": f"sluicegate-{name}"}), shutdown_on_exit=shutdown_on_exit
        )
        made.add_span_processor(processor)
        return made

    # The global provider flushes the shared processor at exit, once.
    trace.set_tracer_provider(provider(process, shutdown_on_exit=True))
    for service in services:
        _SERVICE_PROVIDERS[service] = provider(service, shutdown_on_exit=False)


def get_tracer(name: str, service: str = "") -> Tracer:
    """A tracer whose spans carry `service`'s resource in a co-located process, else the process's."""
    provider = _SERVICE_PROVIDERS.get(service)
    return provider.get_tracer(name) if provider is not None else trace.get_tracer(name)


# Contexts already extracted, by the propagator's fields as they came: every hop of a request carries the same
# `traceparent` unless spans are recorded, and parsing it is most of extracting it.
_EXTRACTED: dict[tuple[str | None, ...], Context] = {}
_EXTRACTED_KEPT = 1024


def context_from_metadata(metadata: Sequence[tuple[str, str | bytes]] | None) -> Context:
    """The caller's trace context from gRPC metadata (W3C `traceparent` / `tracestate`, baggage), and nothing
    from the context current here: an in-process call gets its parent from its metadata, as over the wire."""
    carrier = {key: value for key, value in metadata or () if isinstance(value, str)}
    key = tuple(carrier.get(field) for field in _propagated_fields())
    context = _EXTRACTED.get(key)
    if context is None:
        if len(_EXTRACTED) >= _EXTRACTED_KEPT:
            _EXTRACTED.clear()
        # Contexts are immutable: one extracted for these fields serves every call that brings them.
        context = _EXTRACTED[key] = extract(carrier, context=Context())
    return context


_fields_of: tuple[object, tuple[str, ...]] = (None, ())


def _propagated_fields() -> tuple[str, ...]:
    """The metadata keys the global propagator reads (worked out again if it is replaced)."""
    global _fields_of
    propagator = get_global_textmap()
    if _fields_of[0] is not propagator:
        _fields_of = (propagator, tuple(sorted(propagator.fields)))
    return _fields_of[1]


def inject_into(metadata: list[tuple[str, str]]) -> None:
    """Adds the current trace context to outgoing gRPC metadata."""
    carrier: dict[str, str] = {}
    inject(carrier)
    metadata.extend(carrier.items())


def current_trace_id() -> str:
    """The current W3C trace id in hex, or "" when there is none."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.trace_id else ""
