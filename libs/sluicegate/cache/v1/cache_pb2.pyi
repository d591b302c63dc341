import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from sluicegate.common.v1 import chat_pb2 as _chat_pb2
from sluicegate.common.v1 import decision_pb2 as _decision_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CacheKey(_message.Message):
    __slots__ = ("tenant_id", "model", "messages", "params", "namespace", "policy_version")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    POLICY_VERSION_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    model: str
    messages: _containers.RepeatedCompositeFieldContainer[_chat_pb2.Message]
    params: _chat_pb2.GenerationParams
    namespace: str
    policy_version: str
    def __init__(self, tenant_id: _Optional[str] = ..., model: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_chat_pb2.Message, _Mapping]]] = ..., params: _Optional[_Union[_chat_pb2.GenerationParams, _Mapping]] = ..., namespace: _Optional[str] = ..., policy_version: _Optional[str] = ...) -> None: ...

class CachedAnswer(_message.Message):
    __slots__ = ("text", "model", "finish_reason", "usage", "cost_micros_usd", "created_at")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    text: str
    model: str
    finish_reason: _chat_pb2.FinishReason
    usage: _chat_pb2.Usage
    cost_micros_usd: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, text: _Optional[str] = ..., model: _Optional[str] = ..., finish_reason: _Optional[_Union[_chat_pb2.FinishReason, str]] = ..., usage: _Optional[_Union[_chat_pb2.Usage, _Mapping]] = ..., cost_micros_usd: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LookupRequest(_message.Message):
    __slots__ = ("key", "control", "embedding_wanted")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_WANTED_FIELD_NUMBER: _ClassVar[int]
    key: CacheKey
    control: _chat_pb2.CacheControl
    embedding_wanted: bool
    def __init__(self, key: _Optional[_Union[CacheKey, _Mapping]] = ..., control: _Optional[_Union[_chat_pb2.CacheControl, _Mapping]] = ..., embedding_wanted: _Optional[bool] = ...) -> None: ...

class LookupResponse(_message.Message):
    __slots__ = ("decision", "answer", "question_embedding")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    QUESTION_EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    decision: _decision_pb2.CacheDecision
    answer: CachedAnswer
    question_embedding: bytes
    def __init__(self, decision: _Optional[_Union[_decision_pb2.CacheDecision, _Mapping]] = ..., answer: _Optional[_Union[CachedAnswer, _Mapping]] = ..., question_embedding: _Optional[bytes] = ...) -> None: ...

class StoreRequest(_message.Message):
    __slots__ = ("key", "control", "answer", "guard_flagged")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    GUARD_FLAGGED_FIELD_NUMBER: _ClassVar[int]
    key: CacheKey
    control: _chat_pb2.CacheControl
    answer: CachedAnswer
    guard_flagged: bool
    def __init__(self, key: _Optional[_Union[CacheKey, _Mapping]] = ..., control: _Optional[_Union[_chat_pb2.CacheControl, _Mapping]] = ..., answer: _Optional[_Union[CachedAnswer, _Mapping]] = ..., guard_flagged: _Optional[bool] = ...) -> None: ...

class StoreResponse(_message.Message):
    __slots__ = ("stored", "skipped_reason", "entry_id")
    STORED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_REASON_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    stored: bool
    skipped_reason: str
    entry_id: str
    def __init__(self, stored: _Optional[bool] = ..., skipped_reason: _Optional[str] = ..., entry_id: _Optional[str] = ...) -> None: ...

class InvalidateRequest(_message.Message):
    __slots__ = ("tenant_id", "namespace", "entry_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    namespace: str
    entry_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., namespace: _Optional[str] = ..., entry_id: _Optional[str] = ...) -> None: ...

class InvalidateResponse(_message.Message):
    __slots__ = ("removed_entries",)
    REMOVED_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    removed_entries: int
    def __init__(self, removed_entries: _Optional[int] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("exact_hits", "semantic_hits", "misses", "entries", "bytes", "mean_semantic_similarity", "hit_rate")
    EXACT_HITS_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    MEAN_SEMANTIC_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    HIT_RATE_FIELD_NUMBER: _ClassVar[int]
    exact_hits: int
    semantic_hits: int
    misses: int
    entries: int
    bytes: int
    mean_semantic_similarity: float
    hit_rate: float
    def __init__(self, exact_hits: _Optional[int] = ..., semantic_hits: _Optional[int] = ..., misses: _Optional[int] = ..., entries: _Optional[int] = ..., bytes: _Optional[int] = ..., mean_semantic_similarity: _Optional[float] = ..., hit_rate: _Optional[float] = ...) -> None: ...
