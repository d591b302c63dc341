"""The gRPC servicers: protos in, domain calls, protos out."""

from __future__ import annotations

import grpc
from google.protobuf import timestamp_pb2

from sluicegate.common.v1 import chat_pb2, decision_pb2
from sluicegate.metering.v1 import metering_pb2, metering_pb2_grpc
from sluicegate.runtime.auth import AdminCheck
from sluicegate_metering.budgets import BudgetBook
from sluicegate_metering.keys import KeyStore
from sluicegate_metering.ratelimits import RateLimitBook
from sluicegate_metering.records import (
    ApiKeyRecord,
    BucketCharge,
    BudgetRule,
    BudgetStatus,
    KeySpec,
    Principal,
    RateLimitRule,
    RateScope,
    Scope,
    SpendGroup,
    UsageCharge,
    Window,
)
from sluicegate_metering.reservations import Meter
from sluicegate_metering.spend import SpendReport

SCOPES = {
    metering_pb2.BUDGET_SCOPE_TENANT: Scope.TENANT,
    metering_pb2.BUDGET_SCOPE_TEAM: Scope.TEAM,
    metering_pb2.BUDGET_SCOPE_KEY: Scope.KEY,
    metering_pb2.BUDGET_SCOPE_USER: Scope.USER,
}
WINDOWS = {
    metering_pb2.BUDGET_WINDOW_DAILY: Window.DAILY,
    metering_pb2.BUDGET_WINDOW_MONTHLY: Window.MONTHLY,
    metering_pb2.BUDGET_WINDOW_LIFETIME: Window.LIFETIME,
}
SPEND_GROUPS = {
    metering_pb2.SPEND_GROUP_UNSPECIFIED: SpendGroup.DAY,
    metering_pb2.SPEND_GROUP_DAY: SpendGroup.DAY,
    metering_pb2.SPEND_GROUP_MODEL: SpendGroup.MODEL,
    metering_pb2.SPEND_GROUP_TEAM: SpendGroup.TEAM,
    metering_pb2.SPEND_GROUP_KEY: SpendGroup.KEY,
    metering_pb2.SPEND_GROUP_USER: SpendGroup.USER,
}
RATE_SCOPES = {
    metering_pb2.RATE_LIMIT_SCOPE_TENANT: RateScope.TENANT,
    metering_pb2.RATE_LIMIT_SCOPE_MODEL: RateScope.MODEL,
}
RATE_SCOPE_PROTOS = {scope: proto for proto, scope in RATE_SCOPES.items()}
SCOPE_PROTOS = {scope: proto for proto, scope in SCOPES.items()}
WINDOW_PROTOS = {window: proto for proto, window in WINDOWS.items()}


def _timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1_000_000_000))
    return stamp


def principal_to_proto(principal: Principal) -> chat_pb2.Principal:
    return chat_pb2.Principal(
        tenant_id=principal.tenant_id,
        team_id=principal.team_id,
        user_id=principal.user_id,
        key_id=principal.key_id,
        allowed_models=list(principal.allowed_models),
    )


def principal_from_proto(principal: chat_pb2.Principal) -> Principal:
    return Principal(
        tenant_id=principal.tenant_id,
        team_id=principal.team_id,
        user_id=principal.user_id,
        key_id=principal.key_id,
        allowed_models=tuple(principal.allowed_models),
    )


def charges_from_proto(charges) -> list[UsageCharge]:
    return [
        UsageCharge(
            model=charge.model,
            deployment=charge.deployment,
            prompt_tokens=charge.usage.prompt_tokens,
            completion_tokens=charge.usage.completion_tokens,
            cached_prompt_tokens=charge.usage.cached_prompt_tokens,
            reasoning_tokens=charge.usage.reasoning_tokens,
        )
        for charge in charges
    ]


def bucket_charges_to_proto(buckets: list[BucketCharge]) -> list[decision_pb2.BucketCharge]:
    return [
        decision_pb2.BucketCharge(
            bucket=bucket.bucket,
            charged_micros_usd=bucket.charged_micros,
            remaining_micros_usd=bucket.remaining_micros,
            limit_micros_usd=bucket.limit_micros,
            soft_threshold_reached=bucket.soft_threshold_reached,
        )
        for bucket in buckets
    ]


def key_to_proto(record: ApiKeyRecord) -> metering_pb2.ApiKey:
    spec = record.spec
    key = metering_pb2.ApiKey(
        key_id=record.key_id,
        name=spec.name,
        tenant_id=spec.tenant_id,
        team_id=spec.team_id,
        user_id=spec.user_id,
        allowed_models=list(spec.allowed_models),
        created_at=_timestamp(record.created_at),
        revoked=record.revoked,
        prefix=record.prefix,
        requests_per_minute=spec.requests_per_minute,
        tokens_per_minute=spec.tokens_per_minute,
    )
    if spec.expires_at is not None:
        key.expires_at.CopyFrom(_timestamp(spec.expires_at))
    return key


def key_spec_from_proto(key: metering_pb2.ApiKey) -> KeySpec:
    return KeySpec(
        tenant_id=key.tenant_id,
        name=key.name,
        team_id=key.team_id,
        user_id=key.user_id,
        allowed_models=tuple(key.allowed_models),
        expires_at=key.expires_at.ToNanoseconds() / 1_000_000_000 if key.HasField("expires_at") else None,
        requests_per_minute=key.requests_per_minute,
        tokens_per_minute=key.tokens_per_minute,
    )


def budget_from_proto(budget: metering_pb2.Budget) -> BudgetRule:
    scope = SCOPES[budget.scope]
    return BudgetRule(
        scope=scope,
        subject_id=budget.subject_id or (budget.tenant_id if scope is Scope.TENANT else ""),
        tenant_id=budget.tenant_id,
        window=WINDOWS[budget.window],
        limit_micros=budget.limit_micros_usd,
        soft_threshold_ratio=budget.soft_threshold_ratio,
        allow_downgrade=budget.allow_downgrade,
        reset_hour_utc=budget.reset_hour_utc,
    )


def budget_status_to_proto(status: BudgetStatus) -> metering_pb2.BudgetStatus:
    rule, state = status.rule, status.state
    return metering_pb2.BudgetStatus(
        budget=metering_pb2.Budget(
            scope=SCOPE_PROTOS[rule.scope],
            subject_id=rule.subject_id,
            tenant_id=rule.tenant_id,
            window=WINDOW_PROTOS[rule.window],
            limit_micros_usd=rule.limit_micros,
            soft_threshold_ratio=rule.soft_threshold_ratio,
            allow_downgrade=rule.allow_downgrade,
            reset_hour_utc=rule.reset_hour_utc,
        ),
        bucket=state.bucket,
        spent_micros_usd=state.spent_micros,
        reserved_micros_usd=state.reserved_micros,
        remaining_micros_usd=max(state.room_micros, 0),
        soft_threshold_reached=status.soft_threshold_reached,
    )


def rate_limit_from_proto(limit: metering_pb2.RateLimit) -> RateLimitRule:
    scope = RATE_SCOPES[limit.scope]
    return RateLimitRule(
        scope=scope,
        tenant_id=limit.tenant_id,
        subject_id=limit.tenant_id if scope is RateScope.TENANT else limit.subject_id,
        requests_per_minute=limit.requests_per_minute,
        tokens_per_minute=limit.tokens_per_minute,
    )


def rate_limit_to_proto(rule: RateLimitRule) -> metering_pb2.RateLimit:
    return metering_pb2.RateLimit(
        scope=RATE_SCOPE_PROTOS[rule.scope],
        tenant_id=rule.tenant_id,
        subject_id=rule.subject_id,
        requests_per_minute=rule.requests_per_minute,
        tokens_per_minute=rule.tokens_per_minute,
    )


class MeteringServicer(metering_pb2_grpc.MeteringServiceServicer):
    """sluicegate.metering.v1.MeteringService."""

    def __init__(self, keys: KeyStore, meter: Meter) -> None:
        self._keys = keys
        self._meter = meter

    async def Authenticate(self, request: metering_pb2.AuthenticateRequest, context: grpc.aio.ServicerContext):
        principal = await self._keys.authenticate(request.api_key)
        return metering_pb2.AuthenticateResponse(principal=principal_to_proto(principal))

    async def Authorize(self, request: metering_pb2.AuthorizeRequest, context: grpc.aio.ServicerContext):
        reservation = await self._meter.authorize(
            principal_from_proto(request.principal),
            request.model,
            request.prompt_tokens,
            request.max_tokens,
            request_id=request.request_id,
            allow_downgrade=request.allow_downgrade,
        )
        return metering_pb2.AuthorizeResponse(
            reservation_id=reservation.reservation_id,
            reserved_micros_usd=reservation.amount_micros,
            model=reservation.model,
            downgraded_from=reservation.downgraded_from,
            buckets=bucket_charges_to_proto(reservation.buckets),
            expires_at=_timestamp(reservation.expires_at),
        )

    async def ReportUsage(self, request: metering_pb2.ReportUsageRequest, context: grpc.aio.ServicerContext):
        check = await self._meter.report_usage(request.reservation_id, charges_from_proto(request.charges))
        return metering_pb2.ReportUsageResponse(
            within_budget=check.within_budget,
            cost_micros_usd=check.cost_micros,
            reserved_micros_usd=check.reserved_micros,
            expires_at=_timestamp(check.expires_at),
        )

    async def Settle(self, request: metering_pb2.SettleRequest, context: grpc.aio.ServicerContext):
        settlement = await self._meter.settle(request.reservation_id, charges_from_proto(request.charges))
        return metering_pb2.SettleResponse(
            charged_micros_usd=settlement.charged_micros,
            refunded_micros_usd=settlement.refunded_micros,
            buckets=bucket_charges_to_proto(settlement.buckets),
        )

    async def Release(self, request: metering_pb2.ReleaseRequest, context: grpc.aio.ServicerContext):
        released = await self._meter.release(request.reservation_id)
        return metering_pb2.ReleaseResponse(released_micros_usd=released)


class MeteringAdminServicer(metering_pb2_grpc.MeteringAdminServiceServicer):
    """sluicegate.metering.v1.MeteringAdminService: every call needs the admin credential."""

    def __init__(
        self, admin: AdminCheck, keys: KeyStore, budgets: BudgetBook, rate_limits: RateLimitBook, spend: SpendReport
    ) -> None:
        self._admin = admin
        self._keys = keys
        self._budgets = budgets
        self._rate_limits = rate_limits
        self._spend = spend

    async def CreateApiKey(self, request: metering_pb2.CreateApiKeyRequest, context: grpc.aio.ServicerContext):
        self._admin.require(context)
        issued = await self._keys.create(key_spec_from_proto(request.key))
        return metering_pb2.CreateApiKeyResponse(key=key_to_proto(issued.record), secret=issued.secret)

    async def ListApiKeys(self, request: metering_pb2.ListApiKeysRequest, context: grpc.aio.ServicerContext):
        self._admin.require(context)
        records = await self._keys.list_keys(request.tenant_id)
        return metering_pb2.ListApiKeysResponse(keys=[key_to_proto(record) for record in records])

    async def RotateApiKey(self, request: metering_pb2.RotateApiKeyRequest, context: grpc.aio.ServicerContext):
        self._admin.require(context)
        issued = await self._keys.rotate(request.key_id)
        return metering_pb2.RotateApiKeyResponse(key=key_to_proto(issued.record), secret=issued.secret)

    async def RevokeApiKey(self, request: metering_pb2.RevokeApiKeyRequest, context: grpc.aio.ServicerContext):
        self._admin.require(context)
        record = await self._keys.revoke(request.key_id)
        return metering_pb2.RevokeApiKeyResponse(key=key_to_proto(record))

    async def SetBudget(self, request: metering_pb2.SetBudgetRequest, context: grpc.aio.ServicerContext):
        self._admin.require(context)
        status = await self._budgets.set(budget_from_proto(request.budget))
        return metering_pb2.SetBudgetResponse(status=budget_status_to_proto(status))

    async def GetBudgetStatus(self, request: metering_pb2.GetBudgetStatusRequest, context: grpc.aio.ServicerContext):
        self._admin.require(context)
        statuses = await self._budgets.statuses(request.tenant_id)
        return metering_pb2.GetBudgetStatusResponse(budgets=[budget_status_to_proto(status) for status in statuses])

    async def GetSpend(self, request: metering_pb2.GetSpendRequest, context: grpc.aio.ServicerContext):
        self._admin.require(context)
        rows = await self._spend.report(
            request.tenant_id, SPEND_GROUPS[request.group_by], request.start_day, request.end_day
        )
        return metering_pb2.GetSpendResponse(
            rows=[
                metering_pb2.SpendRow(
                    group=row.group,
                    spent_micros_usd=row.spent_micros,
                    requests=row.requests,
                    prompt_tokens=row.prompt_tokens,
                    completion_tokens=row.completion_tokens,
                )
                for row in rows
            ],
            total_micros_usd=sum(row.spent_micros for row in rows),
        )

    async def SetRateLimit(self, request: metering_pb2.SetRateLimitRequest, context: grpc.aio.ServicerContext):
        self._admin.require(context)
        rule = await self._rate_limits.set(rate_limit_from_proto(request.rate_limit))
        return metering_pb2.SetRateLimitResponse(rate_limit=rate_limit_to_proto(rule))

    async def ExportSpend(self, request: metering_pb2.ExportSpendRequest, context: grpc.aio.ServicerContext):
        self._admin.require(context)
        rows = await self._spend.export(request.tenant_id, request.start_day, request.end_day)
        return metering_pb2.ExportSpendResponse(
            rows=[
                metering_pb2.SpendExportRow(
                    day=row.day,
                    tenant_id=row.tenant_id,
                    team_id=row.team_id,
                    key_id=row.key_id,
                    user_id=row.user_id,
                    model=row.model,
                    spent_micros_usd=row.spent_micros,
                    requests=row.requests,
                    prompt_tokens=row.prompt_tokens,
                    completion_tokens=row.completion_tokens,
                )
                for row in rows
            ]
        )
