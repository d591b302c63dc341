"""OTLP GenAI spans as request traces: any OpenTelemetry-instrumented app's LLM calls feed the same metrics."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from google.protobuf import timestamp_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from sluicegate.common.v1 import chat_pb2
from sluicegate.observer.v1 import observer_pb2

OTLP_TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
# A GenAI span fails with an ERROR status; gRPC's "UNKNOWN" is the closest code, its `error.type` the reason.
FAILED_STATUS_CODE = "UNKNOWN"
OPERATION_REQUEST_TYPES = {"chat": observer_pb2.REQUEST_TYPE_CHAT}
AttributeValue = str | bool | int | float


def attribute_values(attributes: Iterable[common_pb2.KeyValue]) -> dict[str, AttributeValue]:
    """Scalar attributes by key; arrays and maps (which no `gen_ai.*` field this reads uses) are left out."""
    values: dict[str, AttributeValue] = {}
    for attribute in attributes:
        kind = attribute.value.WhichOneof("value")
        if kind in ("string_value", "bool_value", "int_value", "double_value"):
            values[attribute.key] = getattr(attribute.value, kind)
    return values


def _count(value: AttributeValue | None) -> int:
    try:
        return max(int(value or 0), 0)
    except ValueError:
        return 0


def _text(value: AttributeValue | None) -> str:
    return value if isinstance(value, str) else ""


def trace_from_span(span: trace_pb2.Span, resource: Mapping[str, AttributeValue]) -> observer_pb2.RequestTrace | None:
    """The request trace a GenAI span describes, or None when the span has no `gen_ai.operation.name` nor
    `gen_ai.request.model` (it is not a GenAI call).

    The tenant is the span's `sluicegate.tenant_id`, else the resource's `service.name`; the deployment is the
    provider (`gen_ai.provider.name`, or the older `gen_ai.system`). Cost is not known to the app, so it is 0.
    """
    attributes = attribute_values(span.attributes)
    operation = _text(attributes.get("gen_ai.operation.name"))
    requested_model = _text(attributes.get("gen_ai.request.model"))
    if not operation and not requested_model:
        return None
    failed = span.status.code == trace_pb2.Status.STATUS_CODE_ERROR
    started = timestamp_pb2.Timestamp()
    started.FromNanoseconds(span.start_time_unix_nano)
    trace_id, span_id = span.trace_id.hex(), span.span_id.hex()
    return observer_pb2.RequestTrace(
        request_id=f"otlp-{trace_id}-{span_id}",
        trace_id=trace_id,
        timestamp=started,
        tenant_id=_text(attributes.get("sluicegate.tenant_id")) or _text(resource.get("service.name")),
        requested_model=requested_model,
        model=_text(attributes.get("gen_ai.response.model")) or requested_model,
        deployment=_text(attributes.get("gen_ai.provider.name")) or _text(attributes.get("gen_ai.system")),
        usage=chat_pb2.Usage(
            prompt_tokens=_count(attributes.get("gen_ai.usage.input_tokens")),
            completion_tokens=_count(attributes.get("gen_ai.usage.output_tokens")),
        ),
        duration_ms=max(span.end_time_unix_nano - span.start_time_unix_nano, 0) / 1e6,
        status_code=FAILED_STATUS_CODE if failed else "OK",
        error_reason=_text(attributes.get("error.type")) if failed else "",
        request_type=OPERATION_REQUEST_TYPES.get(operation, observer_pb2.REQUEST_TYPE_UNSPECIFIED),
    )


def genai_traces(request: trace_service_pb2.ExportTraceServiceRequest) -> Iterator[observer_pb2.RequestTrace]:
    for resource_spans in request.resource_spans:
        resource = attribute_values(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                converted = trace_from_span(span, resource)
                if converted is not None:
                    yield converted
