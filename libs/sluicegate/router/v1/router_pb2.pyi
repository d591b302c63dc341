from sluicegate.common.v1 import chat_pb2 as _chat_pb2
from sluicegate.common.v1 import decision_pb2 as _decision_pb2
from sluicegate.metering.v1 import metering_pb2 as _metering_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BreakerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAKER_STATE_UNSPECIFIED: _ClassVar[BreakerState]
    BREAKER_STATE_CLOSED: _ClassVar[BreakerState]
    BREAKER_STATE_OPEN: _ClassVar[BreakerState]
    BREAKER_STATE_HALF_OPEN: _ClassVar[BreakerState]
BREAKER_STATE_UNSPECIFIED: BreakerState
BREAKER_STATE_CLOSED: BreakerState
BREAKER_STATE_OPEN: BreakerState
BREAKER_STATE_HALF_OPEN: BreakerState

class ModelCall(_message.Message):
    __slots__ = ("principal", "messages", "model", "params", "complexity_hint", "policy", "region", "request_id", "question_embedding")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_HINT_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    principal: _chat_pb2.Principal
    messages: _containers.RepeatedCompositeFieldContainer[_chat_pb2.Message]
    model: str
    params: _chat_pb2.GenerationParams
    complexity_hint: _chat_pb2.TaskComplexity
    policy: str
    region: str
    request_id: str
    question_embedding: bytes
    def __init__(self, principal: _Optional[_Union[_chat_pb2.Principal, _Mapping]] = ..., messages: _Optional[_Iterable[_Union[_chat_pb2.Message, _Mapping]]] = ..., model: _Optional[str] = ..., params: _Optional[_Union[_chat_pb2.GenerationParams, _Mapping]] = ..., complexity_hint: _Optional[_Union[_chat_pb2.TaskComplexity, str]] = ..., policy: _Optional[str] = ..., region: _Optional[str] = ..., request_id: _Optional[str] = ..., question_embedding: _Optional[bytes] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ("call", "authorize")
    CALL_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZE_FIELD_NUMBER: _ClassVar[int]
    call: ModelCall
    authorize: _metering_pb2.AuthorizeRequest
    def __init__(self, call: _Optional[_Union[ModelCall, _Mapping]] = ..., authorize: _Optional[_Union[_metering_pb2.AuthorizeRequest, _Mapping]] = ...) -> None: ...

class RouteResponse(_message.Message):
    __slots__ = ("decision", "ranking", "prompt_tokens", "reservation")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    RANKING_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    decision: _decision_pb2.RouteDecision
    ranking: _containers.RepeatedCompositeFieldContainer[RankedCandidate]
    prompt_tokens: int
    reservation: _metering_pb2.AuthorizeResponse
    def __init__(self, decision: _Optional[_Union[_decision_pb2.RouteDecision, _Mapping]] = ..., ranking: _Optional[_Iterable[_Union[RankedCandidate, _Mapping]]] = ..., prompt_tokens: _Optional[int] = ..., reservation: _Optional[_Union[_metering_pb2.AuthorizeResponse, _Mapping]] = ...) -> None: ...

class CompleteRequest(_message.Message):
    __slots__ = ("call", "authorize")
    CALL_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZE_FIELD_NUMBER: _ClassVar[int]
    call: ModelCall
    authorize: _metering_pb2.AuthorizeRequest
    def __init__(self, call: _Optional[_Union[ModelCall, _Mapping]] = ..., authorize: _Optional[_Union[_metering_pb2.AuthorizeRequest, _Mapping]] = ...) -> None: ...

class CompleteResponse(_message.Message):
    __slots__ = ("message", "finish_reason", "route", "attempts", "usage", "cost_micros_usd", "model", "reservation", "settled")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    SETTLED_FIELD_NUMBER: _ClassVar[int]
    message: _chat_pb2.Message
    finish_reason: _chat_pb2.FinishReason
    route: _decision_pb2.RouteDecision
    attempts: _containers.RepeatedCompositeFieldContainer[_decision_pb2.Attempt]
    usage: _chat_pb2.Usage
    cost_micros_usd: int
    model: str
    reservation: _metering_pb2.AuthorizeResponse
    settled: bool
    def __init__(self, message: _Optional[_Union[_chat_pb2.Message, _Mapping]] = ..., finish_reason: _Optional[_Union[_chat_pb2.FinishReason, str]] = ..., route: _Optional[_Union[_decision_pb2.RouteDecision, _Mapping]] = ..., attempts: _Optional[_Iterable[_Union[_decision_pb2.Attempt, _Mapping]]] = ..., usage: _Optional[_Union[_chat_pb2.Usage, _Mapping]] = ..., cost_micros_usd: _Optional[int] = ..., model: _Optional[str] = ..., reservation: _Optional[_Union[_metering_pb2.AuthorizeResponse, _Mapping]] = ..., settled: _Optional[bool] = ...) -> None: ...

class CompleteStreamRequest(_message.Message):
    __slots__ = ("call", "continue_on_interruption", "authorize")
    CALL_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_ON_INTERRUPTION_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZE_FIELD_NUMBER: _ClassVar[int]
    call: ModelCall
    continue_on_interruption: bool
    authorize: _metering_pb2.AuthorizeRequest
    def __init__(self, call: _Optional[_Union[ModelCall, _Mapping]] = ..., continue_on_interruption: _Optional[bool] = ..., authorize: _Optional[_Union[_metering_pb2.AuthorizeRequest, _Mapping]] = ...) -> None: ...

class CompleteStreamResponse(_message.Message):
    __slots__ = ("delta", "summary", "reservation")
    DELTA_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_FIELD_NUMBER: _ClassVar[int]
    delta: StreamDelta
    summary: StreamSummary
    reservation: _metering_pb2.AuthorizeResponse
    def __init__(self, delta: _Optional[_Union[StreamDelta, _Mapping]] = ..., summary: _Optional[_Union[StreamSummary, _Mapping]] = ..., reservation: _Optional[_Union[_metering_pb2.AuthorizeResponse, _Mapping]] = ...) -> None: ...

class StreamDelta(_message.Message):
    __slots__ = ("text", "tool_calls", "completion_tokens_so_far")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_SO_FAR_FIELD_NUMBER: _ClassVar[int]
    text: str
    tool_calls: _containers.RepeatedCompositeFieldContainer[_chat_pb2.ToolCall]
    completion_tokens_so_far: int
    def __init__(self, text: _Optional[str] = ..., tool_calls: _Optional[_Iterable[_Union[_chat_pb2.ToolCall, _Mapping]]] = ..., completion_tokens_so_far: _Optional[int] = ...) -> None: ...

class StreamSummary(_message.Message):
    __slots__ = ("finish_reason", "route", "attempts", "usage", "cost_micros_usd", "model")
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    finish_reason: _chat_pb2.FinishReason
    route: _decision_pb2.RouteDecision
    attempts: _containers.RepeatedCompositeFieldContainer[_decision_pb2.Attempt]
    usage: _chat_pb2.Usage
    cost_micros_usd: int
    model: str
    def __init__(self, finish_reason: _Optional[_Union[_chat_pb2.FinishReason, str]] = ..., route: _Optional[_Union[_decision_pb2.RouteDecision, _Mapping]] = ..., attempts: _Optional[_Iterable[_Union[_decision_pb2.Attempt, _Mapping]]] = ..., usage: _Optional[_Union[_chat_pb2.Usage, _Mapping]] = ..., cost_micros_usd: _Optional[int] = ..., model: _Optional[str] = ...) -> None: ...

class ListDeploymentsRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class DeploymentStatus(_message.Message):
    __slots__ = ("name", "model", "provider", "region", "tier", "breaker", "ewma_latency_ms", "ewma_ttft_ms", "recent_error_rate", "input_micros_usd_per_mtok", "output_micros_usd_per_mtok", "context_window_tokens")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    EWMA_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    EWMA_TTFT_MS_FIELD_NUMBER: _ClassVar[int]
    RECENT_ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    INPUT_MICROS_USD_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_MICROS_USD_PER_MTOK_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_WINDOW_TOKENS_FIELD_NUMBER: _ClassVar[int]
    name: str
    model: str
    provider: str
    region: str
    tier: _chat_pb2.TaskComplexity
    breaker: BreakerState
    ewma_latency_ms: float
    ewma_ttft_ms: float
    recent_error_rate: float
    input_micros_usd_per_mtok: int
    output_micros_usd_per_mtok: int
    context_window_tokens: int
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., region: _Optional[str] = ..., tier: _Optional[_Union[_chat_pb2.TaskComplexity, str]] = ..., breaker: _Optional[_Union[BreakerState, str]] = ..., ewma_latency_ms: _Optional[float] = ..., ewma_ttft_ms: _Optional[float] = ..., recent_error_rate: _Optional[float] = ..., input_micros_usd_per_mtok: _Optional[int] = ..., output_micros_usd_per_mtok: _Optional[int] = ..., context_window_tokens: _Optional[int] = ...) -> None: ...

class ListDeploymentsResponse(_message.Message):
    __slots__ = ("deployments",)
    DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    deployments: _containers.RepeatedCompositeFieldContainer[DeploymentStatus]
    def __init__(self, deployments: _Optional[_Iterable[_Union[DeploymentStatus, _Mapping]]] = ...) -> None: ...

class RankedCandidate(_message.Message):
    __slots__ = ("model", "deployment", "score", "reason")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model: str
    deployment: str
    score: float
    reason: str
    def __init__(self, model: _Optional[str] = ..., deployment: _Optional[str] = ..., score: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...
