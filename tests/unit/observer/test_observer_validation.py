"""Request validation: bad batches and ranges are refused with the bad fields named."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2

from sluicegate.common.v1 import chat_pb2
from sluicegate.observer.v1 import observer_pb2
from sluicegate.runtime.errors import ServiceError
from sluicegate_observer.validation import (
    MAX_VIOLATIONS,
    record_traces_validator,
    validate_decision_record,
    validate_metrics_summary,
)


def _bad_fields(error: ServiceError) -> list[str]:
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    bad = next(detail for detail in error.details if isinstance(detail, error_details_pb2.BadRequest))
    return [violation.field for violation in bad.field_violations]


def test_batch_size_is_limited():
    validate = record_traces_validator(max_batch_traces=2)
    validate(observer_pb2.RecordTracesRequest(traces=[observer_pb2.RequestTrace(request_id="a")] * 2))

    with pytest.raises(ServiceError) as caught:
        validate(observer_pb2.RecordTracesRequest(traces=[observer_pb2.RequestTrace(request_id="a")] * 3))

    assert _bad_fields(caught.value) == ["traces"]


def test_traces_the_metrics_cannot_count_are_named():
    validate = record_traces_validator(max_batch_traces=100)
    request = observer_pb2.RecordTracesRequest(
        traces=[
            observer_pb2.RequestTrace(request_id="fine", duration_ms=12.5),
            observer_pb2.RequestTrace(duration_ms=-1),
            observer_pb2.RequestTrace(request_id="x", ttft_ms=float("nan"), usage=chat_pb2.Usage(prompt_tokens=-5)),
        ]
    )

    with pytest.raises(ServiceError) as caught:
        validate(request)

    assert _bad_fields(caught.value) == [
        "traces[1].request_id",
        "traces[1].duration_ms",
        "traces[2].ttft_ms",
        "traces[2].usage.prompt_tokens",
    ]


def test_violations_are_capped_so_the_status_fits_in_metadata():
    validate = record_traces_validator(max_batch_traces=1_000)

    with pytest.raises(ServiceError) as caught:
        validate(observer_pb2.RecordTracesRequest(traces=[observer_pb2.RequestTrace()] * 500))

    assert len(_bad_fields(caught.value)) == MAX_VIOLATIONS


def test_summary_range_must_not_be_empty():
    validate_metrics_summary(observer_pb2.GetMetricsSummaryRequest(start_time=Timestamp(seconds=10)))

    with pytest.raises(ServiceError) as caught:
        validate_metrics_summary(
            observer_pb2.GetMetricsSummaryRequest(start_time=Timestamp(seconds=10), end_time=Timestamp(seconds=10))
        )

    assert _bad_fields(caught.value) == ["start_time"]


def test_decision_record_needs_a_request_id():
    with pytest.raises(ServiceError) as caught:
        validate_decision_record(observer_pb2.GetDecisionRecordRequest())

    assert _bad_fields(caught.value) == ["request_id"]
