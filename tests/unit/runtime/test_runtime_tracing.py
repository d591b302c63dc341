"""Trace context from gRPC metadata: what a call's parent is, and that extracted contexts are reused safely."""

from __future__ import annotations

from opentelemetry import baggage, trace
from opentelemetry import context as otel_context

from sluicegate.runtime import tracing
from sluicegate.runtime.tracing import context_from_metadata

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
OTHER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _trace_id(context) -> str:
    return format(trace.get_current_span(context).get_span_context().trace_id, "032x")


def test_the_parent_comes_from_the_callers_traceparent() -> None:
    metadata = (("x-request-id", "r1"), ("traceparent", PARENT), ("x-api-key", "sg-key"))
    assert _trace_id(context_from_metadata(metadata)) == "0af7651916cd43dd8448eb211c80319c"
    assert _trace_id(context_from_metadata((("traceparent", OTHER),))) == "4bf92f3577b34da6a3ce929d0e0e4736"
    # The same fields again give the same (immutable) context: parsed once.
    assert context_from_metadata((("traceparent", PARENT),)) is context_from_metadata(metadata)
    assert not trace.get_current_span(context_from_metadata(())).get_span_context().is_valid


def test_baggage_comes_from_the_metadata_never_from_the_current_context() -> None:
    token = otel_context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        assert baggage.get_all(context_from_metadata((("traceparent", PARENT),))) == {}
        sent = context_from_metadata((("traceparent", PARENT), ("baggage", "tenant=other")))
        assert baggage.get_all(sent) == {"tenant": "other"}
    finally:
        otel_context.detach(token)


def test_the_extracted_contexts_kept_are_bounded() -> None:
    for number in range(tracing._EXTRACTED_KEPT + 10):
        context = context_from_metadata((("traceparent", f"00-{number + 1:032x}-b7ad6b7169203331-01"),))
        assert _trace_id(context) == f"{number + 1:032x}"
    assert len(tracing._EXTRACTED) <= tracing._EXTRACTED_KEPT
