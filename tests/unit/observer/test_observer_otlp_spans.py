"""GenAI spans to request traces: which spans count, and how their attributes map."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from sluicegate.observer.v1 import observer_pb2
from sluicegate_observer.otlp import genai_traces


def _attributes(**values) -> list[common_pb2.KeyValue]:
    def any_value(value) -> common_pb2.AnyValue:
        if isinstance(value, str):
            return common_pb2.AnyValue(string_value=value)
        return common_pb2.AnyValue(int_value=value)

    return [common_pb2.KeyValue(key=key.replace("__", "."), value=any_value(value)) for key, value in values.items()]


def _request(*spans: trace_pb2.Span) -> trace_service_pb2.ExportTraceServiceRequest:
    resource = resource_pb2.Resource(attributes=_attributes(service__name="bot"))
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[trace_pb2.ResourceSpans(resource=resource, scope_spans=[trace_pb2.ScopeSpans(spans=spans)])]
    )


def test_genai_span_maps_to_a_trace_and_other_spans_are_skipped():
    genai = trace_pb2.Span(
        trace_id=bytes(range(16)),
        span_id=bytes(range(8)),
        start_time_unix_nano=1_800_000_000_000_000_000,
        end_time_unix_nano=1_800_000_000_250_000_000,
        attributes=_attributes(
            gen_ai__operation__name="chat",
            gen_ai__system="anthropic",
            gen_ai__request__model="claude",
            gen_ai__usage__input_tokens=-5,
            gen_ai__usage__output_tokens=7,
            sluicegate__tenant_id="acme",
        ),
    )
    plain = trace_pb2.Span(trace_id=bytes(16), span_id=bytes(8), attributes=_attributes(http__route="/"))

    [converted] = genai_traces(_request(genai, plain))

    assert converted.request_id == f"otlp-{bytes(range(16)).hex()}-{bytes(range(8)).hex()}"
    assert converted.timestamp.seconds == 1_800_000_000
    assert (converted.tenant_id, converted.model, converted.deployment) == ("acme", "claude", "anthropic")
    assert (converted.usage.prompt_tokens, converted.usage.completion_tokens) == (0, 7)
    assert converted.duration_ms == 250
    assert (converted.status_code, converted.request_type) == ("OK", observer_pb2.REQUEST_TYPE_CHAT)
