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

class BudgetScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUDGET_SCOPE_UNSPECIFIED: _ClassVar[BudgetScope]
    BUDGET_SCOPE_TENANT: _ClassVar[BudgetScope]
    BUDGET_SCOPE_TEAM: _ClassVar[BudgetScope]
    BUDGET_SCOPE_KEY: _ClassVar[BudgetScope]
    BUDGET_SCOPE_USER: _ClassVar[BudgetScope]

class BudgetWindow(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUDGET_WINDOW_UNSPECIFIED: _ClassVar[BudgetWindow]
    BUDGET_WINDOW_DAILY: _ClassVar[BudgetWindow]
    BUDGET_WINDOW_MONTHLY: _ClassVar[BudgetWindow]
    BUDGET_WINDOW_LIFETIME: _ClassVar[BudgetWindow]

class SpendGroup(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPEND_GROUP_UNSPECIFIED: _ClassVar[SpendGroup]
    SPEND_GROUP_DAY: _ClassVar[SpendGroup]
    SPEND_GROUP_MODEL: _ClassVar[SpendGroup]
    SPEND_GROUP_TEAM: _ClassVar[SpendGroup]
    SPEND_GROUP_KEY: _ClassVar[SpendGroup]
    SPEND_GROUP_USER: _ClassVar[SpendGroup]

class RateLimitScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RATE_LIMIT_SCOPE_UNSPECIFIED: _ClassVar[RateLimitScope]
    RATE_LIMIT_SCOPE_TENANT: _ClassVar[RateLimitScope]
    RATE_LIMIT_SCOPE_MODEL: _ClassVar[RateLimitScope]
BUDGET_SCOPE_UNSPECIFIED: BudgetScope
BUDGET_SCOPE_TENANT: BudgetScope
BUDGET_SCOPE_TEAM: BudgetScope
BUDGET_SCOPE_KEY: BudgetScope
BUDGET_SCOPE_USER: BudgetScope
BUDGET_WINDOW_UNSPECIFIED: BudgetWindow
BUDGET_WINDOW_DAILY: BudgetWindow
BUDGET_WINDOW_MONTHLY: BudgetWindow
BUDGET_WINDOW_LIFETIME: BudgetWindow
SPEND_GROUP_UNSPECIFIED: SpendGroup
SPEND_GROUP_DAY: SpendGroup
SPEND_GROUP_MODEL: SpendGroup
SPEND_GROUP_TEAM: SpendGroup
SPEND_GROUP_KEY: SpendGroup
SPEND_GROUP_USER: SpendGroup
RATE_LIMIT_SCOPE_UNSPECIFIED: RateLimitScope
RATE_LIMIT_SCOPE_TENANT: RateLimitScope
RATE_LIMIT_SCOPE_MODEL: RateLimitScope

class AuthenticateRequest(_message.Message):
    __slots__ = ("api_key",)
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    def __init__(self, api_key: _Optional[str] = ...) -> None: ...

class AuthenticateResponse(_message.Message):
    __slots__ = ("principal",)
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    principal: _chat_pb2.Principal
    def __init__(self, principal: _Optional[_Union[_chat_pb2.Principal, _Mapping]] = ...) -> None: ...

class AuthorizeRequest(_message.Message):
    __slots__ = ("principal", "model", "prompt_tokens", "max_tokens", "request_id", "allow_downgrade")
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOW_DOWNGRADE_FIELD_NUMBER: _ClassVar[int]
    principal: _chat_pb2.Principal
    model: str
    prompt_tokens: int
    max_tokens: int
    request_id: str
    allow_downgrade: bool
    def __init__(self, principal: _Optional[_Union[_chat_pb2.Principal, _Mapping]] = ..., model: _Optional[str] = ..., prompt_tokens: _Optional[int] = ..., max_tokens: _Optional[int] = ..., request_id: _Optional[str] = ..., allow_downgrade: _Optional[bool] = ...) -> None: ...

class AuthorizeResponse(_message.Message):
    __slots__ = ("reservation_id", "reserved_micros_usd", "model", "downgraded_from", "buckets", "expires_at")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVED_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DOWNGRADED_FROM_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    reserved_micros_usd: int
    model: str
    downgraded_from: str
    buckets: _containers.RepeatedCompositeFieldContainer[_decision_pb2.BucketCharge]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, reservation_id: _Optional[str] = ..., reserved_micros_usd: _Optional[int] = ..., model: _Optional[str] = ..., downgraded_from: _Optional[str] = ..., buckets: _Optional[_Iterable[_Union[_decision_pb2.BucketCharge, _Mapping]]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UsageCharge(_message.Message):
    __slots__ = ("model", "deployment", "usage")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    model: str
    deployment: str
    usage: _chat_pb2.Usage
    def __init__(self, model: _Optional[str] = ..., deployment: _Optional[str] = ..., usage: _Optional[_Union[_chat_pb2.Usage, _Mapping]] = ...) -> None: ...

class ReportUsageRequest(_message.Message):
    __slots__ = ("reservation_id", "charges")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    CHARGES_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    charges: _containers.RepeatedCompositeFieldContainer[UsageCharge]
    def __init__(self, reservation_id: _Optional[str] = ..., charges: _Optional[_Iterable[_Union[UsageCharge, _Mapping]]] = ...) -> None: ...

class ReportUsageResponse(_message.Message):
    __slots__ = ("within_budget", "cost_micros_usd", "reserved_micros_usd", "expires_at")
    WITHIN_BUDGET_FIELD_NUMBER: _ClassVar[int]
    COST_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    RESERVED_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    within_budget: bool
    cost_micros_usd: int
    reserved_micros_usd: int
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, within_budget: _Optional[bool] = ..., cost_micros_usd: _Optional[int] = ..., reserved_micros_usd: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SettleRequest(_message.Message):
    __slots__ = ("reservation_id", "charges")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    CHARGES_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    charges: _containers.RepeatedCompositeFieldContainer[UsageCharge]
    def __init__(self, reservation_id: _Optional[str] = ..., charges: _Optional[_Iterable[_Union[UsageCharge, _Mapping]]] = ...) -> None: ...

class SettleResponse(_message.Message):
    __slots__ = ("charged_micros_usd", "refunded_micros_usd", "buckets")
    CHARGED_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    BUCKETS_FIELD_NUMBER: _ClassVar[int]
    charged_micros_usd: int
    refunded_micros_usd: int
    buckets: _containers.RepeatedCompositeFieldContainer[_decision_pb2.BucketCharge]
    def __init__(self, charged_micros_usd: _Optional[int] = ..., refunded_micros_usd: _Optional[int] = ..., buckets: _Optional[_Iterable[_Union[_decision_pb2.BucketCharge, _Mapping]]] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("reservation_id",)
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    def __init__(self, reservation_id: _Optional[str] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("released_micros_usd",)
    RELEASED_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    released_micros_usd: int
    def __init__(self, released_micros_usd: _Optional[int] = ...) -> None: ...

class ApiKey(_message.Message):
    __slots__ = ("key_id", "name", "tenant_id", "team_id", "user_id", "allowed_models", "expires_at", "created_at", "revoked", "prefix", "requests_per_minute", "tokens_per_minute")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_MODELS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    name: str
    tenant_id: str
    team_id: str
    user_id: str
    allowed_models: _containers.RepeatedScalarFieldContainer[str]
    expires_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    revoked: bool
    prefix: str
    requests_per_minute: int
    tokens_per_minute: int
    def __init__(self, key_id: _Optional[str] = ..., name: _Optional[str] = ..., tenant_id: _Optional[str] = ..., team_id: _Optional[str] = ..., user_id: _Optional[str] = ..., allowed_models: _Optional[_Iterable[str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked: _Optional[bool] = ..., prefix: _Optional[str] = ..., requests_per_minute: _Optional[int] = ..., tokens_per_minute: _Optional[int] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ("key", "secret")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    secret: str
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ...) -> None: ...

class RotateApiKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class RotateApiKeyResponse(_message.Message):
    __slots__ = ("key", "secret")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    secret: str
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ("key_id",)
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    def __init__(self, key_id: _Optional[str] = ...) -> None: ...

class RevokeApiKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: ApiKey
    def __init__(self, key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ("scope", "subject_id", "tenant_id", "window", "limit_micros_usd", "soft_threshold_ratio", "allow_downgrade", "reset_hour_utc")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    LIMIT_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    SOFT_THRESHOLD_RATIO_FIELD_NUMBER: _ClassVar[int]
    ALLOW_DOWNGRADE_FIELD_NUMBER: _ClassVar[int]
    RESET_HOUR_UTC_FIELD_NUMBER: _ClassVar[int]
    scope: BudgetScope
    subject_id: str
    tenant_id: str
    window: BudgetWindow
    limit_micros_usd: int
    soft_threshold_ratio: float
    allow_downgrade: bool
    reset_hour_utc: int
    def __init__(self, scope: _Optional[_Union[BudgetScope, str]] = ..., subject_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., window: _Optional[_Union[BudgetWindow, str]] = ..., limit_micros_usd: _Optional[int] = ..., soft_threshold_ratio: _Optional[float] = ..., allow_downgrade: _Optional[bool] = ..., reset_hour_utc: _Optional[int] = ...) -> None: ...

class BudgetStatus(_message.Message):
    __slots__ = ("budget", "bucket", "spent_micros_usd", "reserved_micros_usd", "remaining_micros_usd", "soft_threshold_reached")
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    SPENT_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    RESERVED_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    REMAINING_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    SOFT_THRESHOLD_REACHED_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    bucket: str
    spent_micros_usd: int
    reserved_micros_usd: int
    remaining_micros_usd: int
    soft_threshold_reached: bool
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ..., bucket: _Optional[str] = ..., spent_micros_usd: _Optional[int] = ..., reserved_micros_usd: _Optional[int] = ..., remaining_micros_usd: _Optional[int] = ..., soft_threshold_reached: _Optional[bool] = ...) -> None: ...

class SetBudgetRequest(_message.Message):
    __slots__ = ("budget",)
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    def __init__(self, budget: _Optional[_Union[Budget, _Mapping]] = ...) -> None: ...

class SetBudgetResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: BudgetStatus
    def __init__(self, status: _Optional[_Union[BudgetStatus, _Mapping]] = ...) -> None: ...

class GetBudgetStatusRequest(_message.Message):
    __slots__ = ("tenant_id",)
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    def __init__(self, tenant_id: _Optional[str] = ...) -> None: ...

class GetBudgetStatusResponse(_message.Message):
    __slots__ = ("budgets",)
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    budgets: _containers.RepeatedCompositeFieldContainer[BudgetStatus]
    def __init__(self, budgets: _Optional[_Iterable[_Union[BudgetStatus, _Mapping]]] = ...) -> None: ...

class GetSpendRequest(_message.Message):
    __slots__ = ("tenant_id", "group_by", "start_day", "end_day")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    START_DAY_FIELD_NUMBER: _ClassVar[int]
    END_DAY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    group_by: SpendGroup
    start_day: str
    end_day: str
    def __init__(self, tenant_id: _Optional[str] = ..., group_by: _Optional[_Union[SpendGroup, str]] = ..., start_day: _Optional[str] = ..., end_day: _Optional[str] = ...) -> None: ...

class SpendRow(_message.Message):
    __slots__ = ("group", "spent_micros_usd", "requests", "prompt_tokens", "completion_tokens")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    SPENT_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    group: str
    spent_micros_usd: int
    requests: int
    prompt_tokens: int
    completion_tokens: int
    def __init__(self, group: _Optional[str] = ..., spent_micros_usd: _Optional[int] = ..., requests: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ...) -> None: ...

class GetSpendResponse(_message.Message):
    __slots__ = ("rows", "total_micros_usd")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[SpendRow]
    total_micros_usd: int
    def __init__(self, rows: _Optional[_Iterable[_Union[SpendRow, _Mapping]]] = ..., total_micros_usd: _Optional[int] = ...) -> None: ...

class RateLimit(_message.Message):
    __slots__ = ("scope", "tenant_id", "subject_id", "requests_per_minute", "tokens_per_minute")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    scope: RateLimitScope
    tenant_id: str
    subject_id: str
    requests_per_minute: int
    tokens_per_minute: int
    def __init__(self, scope: _Optional[_Union[RateLimitScope, str]] = ..., tenant_id: _Optional[str] = ..., subject_id: _Optional[str] = ..., requests_per_minute: _Optional[int] = ..., tokens_per_minute: _Optional[int] = ...) -> None: ...

class SetRateLimitRequest(_message.Message):
    __slots__ = ("rate_limit",)
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    rate_limit: RateLimit
    def __init__(self, rate_limit: _Optional[_Union[RateLimit, _Mapping]] = ...) -> None: ...

class SetRateLimitResponse(_message.Message):
    __slots__ = ("rate_limit",)
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    rate_limit: RateLimit
    def __init__(self, rate_limit: _Optional[_Union[RateLimit, _Mapping]] = ...) -> None: ...

class ExportSpendRequest(_message.Message):
    __slots__ = ("tenant_id", "start_day", "end_day")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    START_DAY_FIELD_NUMBER: _ClassVar[int]
    END_DAY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    start_day: str
    end_day: str
    def __init__(self, tenant_id: _Optional[str] = ..., start_day: _Optional[str] = ..., end_day: _Optional[str] = ...) -> None: ...

class SpendExportRow(_message.Message):
    __slots__ = ("day", "tenant_id", "team_id", "key_id", "user_id", "model", "spent_micros_usd", "requests", "prompt_tokens", "completion_tokens")
    DAY_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SPENT_MICROS_USD_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    day: str
    tenant_id: str
    team_id: str
    key_id: str
    user_id: str
    model: str
    spent_micros_usd: int
    requests: int
    prompt_tokens: int
    completion_tokens: int
    def __init__(self, day: _Optional[str] = ..., tenant_id: _Optional[str] = ..., team_id: _Optional[str] = ..., key_id: _Optional[str] = ..., user_id: _Optional[str] = ..., model: _Optional[str] = ..., spent_micros_usd: _Optional[int] = ..., requests: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ...) -> None: ...

class ExportSpendResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[SpendExportRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[SpendExportRow, _Mapping]]] = ...) -> None: ...
