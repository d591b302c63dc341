from sluicegate.common.v1 import chat_pb2 as _chat_pb2
from sluicegate.common.v1 import decision_pb2 as _decision_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChatRequest(_message.Message):
    __slots__ = ("messages", "model", "params", "complexity_hint", "cache", "metadata", "user_id", "idempotency_key", "routing_policy")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_HINT_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ROUTING_POLICY_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_chat_pb2.Message]
    model: str
    params: _chat_pb2.GenerationParams
    complexity_hint: _chat_pb2.TaskComplexity
    cache: _chat_pb2.CacheControl
    metadata: _containers.ScalarMap[str, str]
    user_id: str
    idempotency_key: str
    routing_policy: str
    def __init__(self, messages: _Optional[_Iterable[_Union[_chat_pb2.Message, _Mapping]]] = ..., model: _Optional[str] = ..., params: _Optional[_Union[_chat_pb2.GenerationParams, _Mapping]] = ..., complexity_hint: _Optional[_Union[_chat_pb2.TaskComplexity, str]] = ..., cache: _Optional[_Union[_chat_pb2.CacheControl, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., user_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., routing_policy: _Optional[str] = ...) -> None: ...

class ChatResponse(_message.Message):
    __slots__ = ("id", "message", "finish_reason", "model", "usage", "cost_micros_usd", "decision")
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    id: str
    message: _chat_pb2.Message
    finish_reason: _chat_pb2.FinishReason
    model: str
    usage: _chat_pb2.Usage
    cost_micros_usd: int
    decision: _decision_pb2.DecisionRecord
    def __init__(self, id: _Optional[str] = ..., message: _Optional[_Union[_chat_pb2.Message, _Mapping]] = ..., finish_reason: _Optional[_Union[_chat_pb2.FinishReason, str]] = ..., model: _Optional[str] = ..., usage: _Optional[_Union[_chat_pb2.Usage, _Mapping]] = ..., cost_micros_usd: _Optional[int] = ..., decision: _Optional[_Union[_decision_pb2.DecisionRecord, _Mapping]] = ...) -> None: ...

class ChatStreamRequest(_message.Message):
    __slots__ = ("messages", "model", "params", "complexity_hint", "cache", "metadata", "user_id", "idempotency_key", "routing_policy", "continue_on_interruption")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_HINT_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ROUTING_POLICY_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_ON_INTERRUPTION_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[_chat_pb2.Message]
    model: str
    params: _chat_pb2.GenerationParams
    complexity_hint: _chat_pb2.TaskComplexity
    cache: _chat_pb2.CacheControl
    metadata: _containers.ScalarMap[str, str]
    user_id: str
    idempotency_key: str
    routing_policy: str
    continue_on_interruption: bool
    def __init__(self, messages: _Optional[_Iterable[_Union[_chat_pb2.Message, _Mapping]]] = ..., model: _Optional[str] = ..., params: _Optional[_Union[_chat_pb2.GenerationParams, _Mapping]] = ..., complexity_hint: _Optional[_Union[_chat_pb2.TaskComplexity, str]] = ..., cache: _Optional[_Union[_chat_pb2.CacheControl, _Mapping]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., user_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., routing_policy: _Optional[str] = ..., continue_on_interruption: _Optional[bool] = ...) -> None: ...

class ChatStreamResponse(_message.Message):
    __slots__ = ("delta", "summary")
    DELTA_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    delta: ChatDelta
    summary: ChatSummary
    def __init__(self, delta: _Optional[_Union[ChatDelta, _Mapping]] = ..., summary: _Optional[_Union[ChatSummary, _Mapping]] = ...) -> None: ...

class ChatDelta(_message.Message):
    __slots__ = ("text", "tool_calls")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    text: str
    tool_calls: _containers.RepeatedCompositeFieldContainer[_chat_pb2.ToolCall]
    def __init__(self, text: _Optional[str] = ..., tool_calls: _Optional[_Iterable[_Union[_chat_pb2.ToolCall, _Mapping]]] = ...) -> None: ...

class ChatSummary(_message.Message):
    __slots__ = ("id", "finish_reason", "model", "usage", "cost_micros_usd", "decision")
    ID_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    id: str
    finish_reason: _chat_pb2.FinishReason
    model: str
    usage: _chat_pb2.Usage
    cost_micros_usd: int
    decision: _decision_pb2.DecisionRecord
    def __init__(self, id: _Optional[str] = ..., finish_reason: _Optional[_Union[_chat_pb2.FinishReason, str]] = ..., model: _Optional[str] = ..., usage: _Optional[_Union[_chat_pb2.Usage, _Mapping]] = ..., cost_micros_usd: _Optional[int] = ..., decision: _Optional[_Union[_decision_pb2.DecisionRecord, _Mapping]] = ...) -> None: ...
