import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sluicegate.common.v1 import chat_pb2 as _chat_pb2
from sluicegate.common.v1 import decision_pb2 as _decision_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RequestType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUEST_TYPE_UNSPECIFIED: _ClassVar[RequestType]
    REQUEST_TYPE_CHAT: _ClassVar[RequestType]
    REQUEST_TYPE_CHAT_STREAM: _ClassVar[RequestType]

class SummaryGroup(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUMMARY_GROUP_UNSPECIFIED: _ClassVar[SummaryGroup]
    SUMMARY_GROUP_MODEL: _ClassVar[SummaryGroup]
    SUMMARY_GROUP_TENANT: _ClassVar[SummaryGroup]
    SUMMARY_GROUP_DEPLOYMENT: _ClassVar[SummaryGroup]

class AlertState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_STATE_UNSPECIFIED: _ClassVar[AlertState]
    ALERT_STATE_FIRING: _ClassVar[AlertState]
    ALERT_STATE_RESOLVED: _ClassVar[AlertState]
REQUEST_TYPE_UNSPECIFIED: RequestType
REQUEST_TYPE_CHAT: RequestType
REQUEST_TYPE_CHAT_STREAM: RequestType
SUMMARY_GROUP_UNSPECIFIED: SummaryGroup
SUMMARY_GROUP_MODEL: SummaryGroup
SUMMARY_GROUP_TENANT: SummaryGroup
SUMMARY_GROUP_DEPLOYMENT: SummaryGroup
ALERT_STATE_UNSPECIFIED: AlertState
ALERT_STATE_FIRING: AlertState
ALERT_STATE_RESOLVED: AlertState

class RequestTrace(_message.Message):
    __slots__ = ("request_id", "trace_id", "timestamp", "tenant_id", "user_id", "requested_model", "model", "deployment", "usage", "duration_ms", "ttft_ms", "cost_micros_usd", "status_code", "error_reason", "request_type", "decision")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    TTFT_MS_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TYPE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trace_id: str
    timestamp: _timestamp_pb2.Timestamp
    tenant_id: str
    user_id: str
    requested_model: str
    model: str
    deployment: str
    usage: _chat_pb2.Usage
    duration_ms: float
    ttft_ms: float
    cost_micros_usd: int
    status_code: str
    error_reason: str
    request_type: RequestType
    decision: _decision_pb2.DecisionRecord
    def __init__(self, request_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tenant_id: _Optional[str] = ..., user_id: _Optional[str] = ..., requested_model: _Optional[str] = ..., model: _Optional[str] = ..., deployment: _Optional[str] = ..., usage: _Optional[_Union[_chat_pb2.Usage, _Mapping]] = ..., duration_ms: _Optional[float] = ..., ttft_ms: _Optional[float] = ..., cost_micros_usd: _Optional[int] = ..., status_code: _Optional[str] = ..., error_reason: _Optional[str] = ..., request_type: _Optional[_Union[RequestType, str]] = ..., decision: _Optional[_Union[_decision_pb2.DecisionRecord, _Mapping]] = ...) -> None: ...

class RecordTracesRequest(_message.Message):
    __slots__ = ("traces", "dropped_traces", "sender", "sender_queue_depth")
    TRACES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_TRACES_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    SENDER_QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    traces: _containers.RepeatedCompositeFieldContainer[RequestTrace]
    dropped_traces: int
    sender: str
    sender_queue_depth: int
    def __init__(self, traces: _Optional[_Iterable[_Union[RequestTrace, _Mapping]]] = ..., dropped_traces: _Optional[int] = ..., sender: _Optional[str] = ..., sender_queue_depth: _Optional[int] = ...) -> None: ...

class RecordTracesResponse(_message.Message):
    __slots__ = ("accepted",)
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    def __init__(self, accepted: _Optional[int] = ...) -> None: ...

class GetMetricsSummaryRequest(_message.Message):
    __slots__ = ("start_time", "end_time", "group_by")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    group_by: SummaryGroup
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., group_by: _Optional[_Union[SummaryGroup, str]] = ...) -> None: ...

class MetricsSummary(_message.Message):
    __slots__ = ("group", "requests", "errors", "error_rate", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "prompt_tokens", "completion_tokens", "cost_micros_usd", "cache_hits", "cache_hit_rate")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P50_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P95_MS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_P99_MS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    CACHE_HITS_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_RATE_FIELD_NUMBER: _ClassVar[int]
    group: str
    requests: int
    errors: int
    error_rate: float
    latency_p50_ms: float
    latency_p95_ms: float
    latency_p99_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost_micros_usd: int
    cache_hits: int
    cache_hit_rate: float
    def __init__(self, group: _Optional[str] = ..., requests: _Optional[int] = ..., errors: _Optional[int] = ..., error_rate: _Optional[float] = ..., latency_p50_ms: _Optional[float] = ..., latency_p95_ms: _Optional[float] = ..., latency_p99_ms: _Optional[float] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., cost_micros_usd: _Optional[int] = ..., cache_hits: _Optional[int] = ..., cache_hit_rate: _Optional[float] = ...) -> None: ...

class GetMetricsSummaryResponse(_message.Message):
    __slots__ = ("groups", "total")
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    groups: _containers.RepeatedCompositeFieldContainer[MetricsSummary]
    total: MetricsSummary
    def __init__(self, groups: _Optional[_Iterable[_Union[MetricsSummary, _Mapping]]] = ..., total: _Optional[_Union[MetricsSummary, _Mapping]] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("rule", "subject", "state", "value", "threshold", "description", "fired_at", "resolved_at")
    RULE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FIRED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    rule: str
    subject: str
    state: AlertState
    value: float
    threshold: float
    description: str
    fired_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    def __init__(self, rule: _Optional[str] = ..., subject: _Optional[str] = ..., state: _Optional[_Union[AlertState, str]] = ..., value: _Optional[float] = ..., threshold: _Optional[float] = ..., description: _Optional[str] = ..., fired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("include_resolved",)
    INCLUDE_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    include_resolved: bool
    def __init__(self, include_resolved: _Optional[bool] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts",)
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ...) -> None: ...

class GetDecisionRecordRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class GetDecisionRecordResponse(_message.Message):
    __slots__ = ("trace",)
    TRACE_FIELD_NUMBER: _ClassVar[int]
    trace: RequestTrace
    def __init__(self, trace: _Optional[_Union[RequestTrace, _Mapping]] = ...) -> None: ...
