from sluicegate.common.v1 import chat_pb2 as _chat_pb2
from sluicegate.common.v1 import decision_pb2 as _decision_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InspectInputRequest(_message.Message):
    __slots__ = ("principal", "messages", "request_id")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    principal: _chat_pb2.Principal
    messages: _containers.RepeatedCompositeFieldContainer[_chat_pb2.Message]
    request_id: str
    def __init__(self, principal: _Optional[_Union[_chat_pb2.Principal, _Mapping]] = ..., messages: _Optional[_Iterable[_Union[_chat_pb2.Message, _Mapping]]] = ..., request_id: _Optional[str] = ...) -> None: ...

class InspectInputResponse(_message.Message):
    __slots__ = ("verdict", "sanitized_messages", "restore_handle")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    SANITIZED_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    RESTORE_HANDLE_FIELD_NUMBER: _ClassVar[int]
    verdict: _decision_pb2.GuardVerdict
    sanitized_messages: _containers.RepeatedCompositeFieldContainer[_chat_pb2.Message]
    restore_handle: str
    def __init__(self, verdict: _Optional[_Union[_decision_pb2.GuardVerdict, _Mapping]] = ..., sanitized_messages: _Optional[_Iterable[_Union[_chat_pb2.Message, _Mapping]]] = ..., restore_handle: _Optional[str] = ...) -> None: ...

class InspectOutputRequest(_message.Message):
    __slots__ = ("principal", "restore_handle", "text", "canary")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    RESTORE_HANDLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CANARY_FIELD_NUMBER: _ClassVar[int]
    principal: _chat_pb2.Principal
    restore_handle: str
    text: str
    canary: str
    def __init__(self, principal: _Optional[_Union[_chat_pb2.Principal, _Mapping]] = ..., restore_handle: _Optional[str] = ..., text: _Optional[str] = ..., canary: _Optional[str] = ...) -> None: ...

class InspectOutputResponse(_message.Message):
    __slots__ = ("verdict", "text")
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    verdict: _decision_pb2.GuardVerdict
    text: str
    def __init__(self, verdict: _Optional[_Union[_decision_pb2.GuardVerdict, _Mapping]] = ..., text: _Optional[str] = ...) -> None: ...

class InspectOutputStreamRequest(_message.Message):
    __slots__ = ("start", "text")
    START_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    start: OutputStreamStart
    text: str
    def __init__(self, start: _Optional[_Union[OutputStreamStart, _Mapping]] = ..., text: _Optional[str] = ...) -> None: ...

class OutputStreamStart(_message.Message):
    __slots__ = ("principal", "restore_handle", "canary")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    RESTORE_HANDLE_FIELD_NUMBER: _ClassVar[int]
    CANARY_FIELD_NUMBER: _ClassVar[int]
    principal: _chat_pb2.Principal
    restore_handle: str
    canary: str
    def __init__(self, principal: _Optional[_Union[_chat_pb2.Principal, _Mapping]] = ..., restore_handle: _Optional[str] = ..., canary: _Optional[str] = ...) -> None: ...

class InspectOutputStreamResponse(_message.Message):
    __slots__ = ("text", "verdict")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    text: str
    verdict: _decision_pb2.GuardVerdict
    def __init__(self, text: _Optional[str] = ..., verdict: _Optional[_Union[_decision_pb2.GuardVerdict, _Mapping]] = ...) -> None: ...
