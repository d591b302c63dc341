"""Request validators the runtime runs before the servicers: each names the bad fields in a BadRequest."""

from __future__ import annotations

import math
from collections.abc import Callable

from sluicegate.observer.v1 import observer_pb2
from sluicegate.runtime.errors import invalid_argument

# A status's details travel in trailing metadata (8 KiB by default): name only the first few bad fields.
MAX_VIOLATIONS = 10


def _trace_violations(index: int, trace: observer_pb2.RequestTrace) -> dict[str, str]:
    prefix = f"traces[{index}]"
    violations: dict[str, str] = {}
    if not trace.request_id:
        violations[f"{prefix}.request_id"] = "required: decision records are looked up by it"
    for name in ("duration_ms", "ttft_ms"):
        value = getattr(trace, name)
        if not math.isfinite(value) or value < 0:
            violations[f"{prefix}.{name}"] = "must be a finite number of milliseconds, 0 or more"
    if trace.cost_micros_usd < 0:
        violations[f"{prefix}.cost_micros_usd"] = "must not be negative"
    for name in ("prompt_tokens", "completion_tokens", "cached_prompt_tokens"):
        if getattr(trace.usage, name) < 0:
            violations[f"{prefix}.usage.{name}"] = "must not be negative"
    return violations


def record_traces_validator(max_batch_traces: int) -> Callable[[observer_pb2.RecordTracesRequest], None]:
    """Rejects oversized batches (they would hold the event loop) and traces the metrics cannot count."""

    def validate(request: observer_pb2.RecordTracesRequest) -> None:
        if len(request.traces) > max_batch_traces:
            raise invalid_argument({"traces": f"at most {max_batch_traces} traces a batch, got {len(request.traces)}"})
        violations: dict[str, str] = {}
        for index, trace in enumerate(request.traces):
            violations.update(_trace_violations(index, trace))
            if len(violations) >= MAX_VIOLATIONS:
                break
        if violations:
            raise invalid_argument(dict(list(violations.items())[:MAX_VIOLATIONS]))

    return validate


def validate_metrics_summary(request: observer_pb2.GetMetricsSummaryRequest) -> None:
    if (
        request.HasField("start_time")
        and request.HasField("end_time")
        and request.start_time.ToNanoseconds() >= request.end_time.ToNanoseconds()
    ):
        raise invalid_argument({"start_time": "must be before end_time"})


def validate_decision_record(request: observer_pb2.GetDecisionRecordRequest) -> None:
    if not request.request_id:
        raise invalid_argument({"request_id": "required"})
