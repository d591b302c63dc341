import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sluicegate.common.v1 import chat_pb2 as _chat_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GuardStage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GUARD_STAGE_UNSPECIFIED: _ClassVar[GuardStage]
    GUARD_STAGE_INPUT: _ClassVar[GuardStage]
    GUARD_STAGE_OUTPUT: _ClassVar[GuardStage]

class GuardAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GUARD_ACTION_UNSPECIFIED: _ClassVar[GuardAction]
    GUARD_ACTION_ALLOW: _ClassVar[GuardAction]
    GUARD_ACTION_SANITIZE: _ClassVar[GuardAction]
    GUARD_ACTION_BLOCK: _ClassVar[GuardAction]
    GUARD_ACTION_NOT_SCANNED: _ClassVar[GuardAction]

class FindingKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINDING_KIND_UNSPECIFIED: _ClassVar[FindingKind]
    FINDING_KIND_INJECTION: _ClassVar[FindingKind]
    FINDING_KIND_PII: _ClassVar[FindingKind]
    FINDING_KIND_SECRET: _ClassVar[FindingKind]
    FINDING_KIND_CANARY_LEAK: _ClassVar[FindingKind]

class CacheOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CACHE_OUTCOME_UNSPECIFIED: _ClassVar[CacheOutcome]
    CACHE_OUTCOME_MISS: _ClassVar[CacheOutcome]
    CACHE_OUTCOME_HIT_EXACT: _ClassVar[CacheOutcome]
    CACHE_OUTCOME_HIT_SEMANTIC: _ClassVar[CacheOutcome]
    CACHE_OUTCOME_SKIPPED: _ClassVar[CacheOutcome]
    CACHE_OUTCOME_ERROR: _ClassVar[CacheOutcome]
    CACHE_OUTCOME_COALESCED: _ClassVar[CacheOutcome]

class AttemptOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTEMPT_OUTCOME_UNSPECIFIED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_SUCCESS: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_RATE_LIMITED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_SERVER_ERROR: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_TIMEOUT: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_CONNECTION_ERROR: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_BAD_REQUEST: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_AUTH_ERROR: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_CONTEXT_WINDOW_EXCEEDED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_CONTENT_POLICY: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_STREAM_CUT: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_CIRCUIT_OPEN: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_CANCELLED: _ClassVar[AttemptOutcome]
GUARD_STAGE_UNSPECIFIED: GuardStage
GUARD_STAGE_INPUT: GuardStage
GUARD_STAGE_OUTPUT: GuardStage
GUARD_ACTION_UNSPECIFIED: GuardAction
GUARD_ACTION_ALLOW: GuardAction
GUARD_ACTION_SANITIZE: GuardAction
GUARD_ACTION_BLOCK: GuardAction
GUARD_ACTION_NOT_SCANNED: GuardAction
FINDING_KIND_UNSPECIFIED: FindingKind
FINDING_KIND_INJECTION: FindingKind
FINDING_KIND_PII: FindingKind
FINDING_KIND_SECRET: FindingKind
FINDING_KIND_CANARY_LEAK: FindingKind
CACHE_OUTCOME_UNSPECIFIED: CacheOutcome
CACHE_OUTCOME_MISS: CacheOutcome
CACHE_OUTCOME_HIT_EXACT: CacheOutcome
CACHE_OUTCOME_HIT_SEMANTIC: CacheOutcome
CACHE_OUTCOME_SKIPPED: CacheOutcome
CACHE_OUTCOME_ERROR: CacheOutcome
CACHE_OUTCOME_COALESCED: CacheOutcome
ATTEMPT_OUTCOME_UNSPECIFIED: AttemptOutcome
ATTEMPT_OUTCOME_SUCCESS: AttemptOutcome
ATTEMPT_OUTCOME_RATE_LIMITED: AttemptOutcome
ATTEMPT_OUTCOME_SERVER_ERROR: AttemptOutcome
ATTEMPT_OUTCOME_TIMEOUT: AttemptOutcome
ATTEMPT_OUTCOME_CONNECTION_ERROR: AttemptOutcome
ATTEMPT_OUTCOME_BAD_REQUEST: AttemptOutcome
ATTEMPT_OUTCOME_AUTH_ERROR: AttemptOutcome
ATTEMPT_OUTCOME_CONTEXT_WINDOW_EXCEEDED: AttemptOutcome
ATTEMPT_OUTCOME_CONTENT_POLICY: AttemptOutcome
ATTEMPT_OUTCOME_STREAM_CUT: AttemptOutcome
ATTEMPT_OUTCOME_CIRCUIT_OPEN: AttemptOutcome
ATTEMPT_OUTCOME_CANCELLED: AttemptOutcome

class DecisionRecord(_message.Message):
    __slots__ = ("request_id", "trace_id", "route", "guard_verdicts", "cache", "budget", "attempts", "stages", "total_duration_ms", "received_at", "idempotent_replay")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    GUARD_VERDICTS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENT_REPLAY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trace_id: str
    route: RouteDecision
    guard_verdicts: _containers.RepeatedCompositeFieldContainer[GuardVerdict]
    cache: CacheDecision
    budget: BudgetDecision
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    stages: _containers.RepeatedCompositeFieldContainer[StageTiming]
    total_duration_ms: float
    received_at: _timestamp_pb2.Timestamp
    idempotent_replay: bool
    def __init__(self, request_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., route: _Optional[_Union[RouteDecision, _Mapping]] = ..., guard_verdicts: _Optional[_Iterable[_Union[GuardVerdict, _Mapping]]] = ..., cache: _Optional[_Union[CacheDecision, _Mapping]] = ..., budget: _Optional[_Union[BudgetDecision, _Mapping]] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., stages: _Optional[_Iterable[_Union[StageTiming, _Mapping]]] = ..., total_duration_ms: _Optional[float] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., idempotent_replay: _Optional[bool] = ...) -> None: ...

class RouteDecision(_message.Message):
    __slots__ = ("requested_model", "model", "deployment", "provider", "complexity", "complexity_source", "policy", "reason", "alternatives", "downgraded_from", "continued_after_interruption")
    REQUESTED_MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_SOURCE_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVES_FIELD_NUMBER: _ClassVar[int]
    DOWNGRADED_FROM_FIELD_NUMBER: _ClassVar[int]
    CONTINUED_AFTER_INTERRUPTION_FIELD_NUMBER: _ClassVar[int]
    requested_model: str
    model: str
    deployment: str
    provider: str
    complexity: _chat_pb2.TaskComplexity
    complexity_source: str
    policy: str
    reason: str
    alternatives: _containers.RepeatedCompositeFieldContainer[RouteCandidate]
    downgraded_from: str
    continued_after_interruption: bool
    def __init__(self, requested_model: _Optional[str] = ..., model: _Optional[str] = ..., deployment: _Optional[str] = ..., provider: _Optional[str] = ..., complexity: _Optional[_Union[_chat_pb2.TaskComplexity, str]] = ..., complexity_source: _Optional[str] = ..., policy: _Optional[str] = ..., reason: _Optional[str] = ..., alternatives: _Optional[_Iterable[_Union[RouteCandidate, _Mapping]]] = ..., downgraded_from: _Optional[str] = ..., continued_after_interruption: _Optional[bool] = ...) -> None: ...

class RouteCandidate(_message.Message):
    __slots__ = ("model", "deployment", "score", "excluded_reason")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_REASON_FIELD_NUMBER: _ClassVar[int]
    model: str
    deployment: str
    score: float
    excluded_reason: str
    def __init__(self, model: _Optional[str] = ..., deployment: _Optional[str] = ..., score: _Optional[float] = ..., excluded_reason: _Optional[str] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("kind", "category", "score", "message_index", "start", "end", "action", "detector")
    KIND_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_INDEX_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DETECTOR_FIELD_NUMBER: _ClassVar[int]
    kind: FindingKind
    category: str
    score: float
    message_index: int
    start: int
    end: int
    action: GuardAction
    detector: str
    def __init__(self, kind: _Optional[_Union[FindingKind, str]] = ..., category: _Optional[str] = ..., score: _Optional[float] = ..., message_index: _Optional[int] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., action: _Optional[_Union[GuardAction, str]] = ..., detector: _Optional[str] = ...) -> None: ...

class GuardVerdict(_message.Message):
    __slots__ = ("stage", "action", "injection_score", "findings", "duration_ms")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    INJECTION_SCORE_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    stage: GuardStage
    action: GuardAction
    injection_score: float
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    duration_ms: float
    def __init__(self, stage: _Optional[_Union[GuardStage, str]] = ..., action: _Optional[_Union[GuardAction, str]] = ..., injection_score: _Optional[float] = ..., findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ..., duration_ms: _Optional[float] = ...) -> None: ...

class CacheDecision(_message.Message):
    __slots__ = ("outcome", "similarity", "age_seconds", "entry_id", "stored", "store_skipped_reason")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    STORE_SKIPPED_REASON_FIELD_NUMBER: _ClassVar[int]
    outcome: CacheOutcome
    similarity: float
    age_seconds: int
    entry_id: str
    stored: bool
    store_skipped_reason: str
    def __init__(self, outcome: _Optional[_Union[CacheOutcome, str]] = ..., similarity: _Optional[float] = ..., age_seconds: _Optional[int] = ..., entry_id: _Optional[str] = ..., stored: _Optional[bool] = ..., store_skipped_reason: _Optional[str] = ...) -> None: ...

class BucketCharge(_message.Message):
    __slots__ = ("bucket", "charged_micros_usd", "remaining_micros_usd", "limit_micros_usd", "soft_threshold_reached")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    CHARGED_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    REMAINING_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    LIMIT_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    SOFT_THRESHOLD_REACHED_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    charged_micros_usd: int
    remaining_micros_usd: int
    limit_micros_usd: int
    soft_threshold_reached: bool
    def __init__(self, bucket: _Optional[str] = ..., charged_micros_usd: _Optional[int] = ..., remaining_micros_usd: _Optional[int] = ..., limit_micros_usd: _Optional[int] = ..., soft_threshold_reached: _Optional[bool] = ...) -> None: ...

class BudgetDecision(_message.Message):
    __slots__ = ("reservation_id", "reserved_micros_usd", "charged_micros_usd", "buckets", "downgraded_to")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVED_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    CHARGED_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    DOWNGRADED_TO_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    reserved_micros_usd: int
    charged_micros_usd: int
    buckets: _containers.RepeatedCompositeFieldContainer[BucketCharge]
    downgraded_to: str
    def __init__(self, reservation_id: _Optional[str] = ..., reserved_micros_usd: _Optional[int] = ..., charged_micros_usd: _Optional[int] = ..., buckets: _Optional[_Iterable[_Union[BucketCharge, _Mapping]]] = ..., downgraded_to: _Optional[str] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("model", "deployment", "outcome", "error_message", "retry", "duration_ms", "ttft_ms", "usage", "cost_micros_usd", "http_status", "continuation")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    TTFT_MS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    CONTINUATION_FIELD_NUMBER: _ClassVar[int]
    model: str
    deployment: str
    outcome: AttemptOutcome
    error_message: str
    retry: int
    duration_ms: float
    ttft_ms: float
    usage: _chat_pb2.Usage
    cost_micros_usd: int
    http_status: int
    continuation: bool
    def __init__(self, model: _Optional[str] = ..., deployment: _Optional[str] = ..., outcome: _Optional[_Union[AttemptOutcome, str]] = ..., error_message: _Optional[str] = ..., retry: _Optional[int] = ..., duration_ms: _Optional[float] = ..., ttft_ms: _Optional[float] = ..., usage: _Optional[_Union[_chat_pb2.Usage, _Mapping]] = ..., cost_micros_usd: _Optional[int] = ..., http_status: _Optional[int] = ..., continuation: _Optional[bool] = ...) -> None: ...

class StageTiming(_message.Message):
    __slots__ = ("stage", "duration_ms", "start_offset_ms")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_MS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    duration_ms: float
    start_offset_ms: float
    def __init__(self, stage: _Optional[str] = ..., duration_ms: _Optional[float] = ..., start_offset_ms: _Optional[float] = ...) -> None: ...
