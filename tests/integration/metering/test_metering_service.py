"""The metering service served on port 0 over a real Redis, called through the production channel."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sluicegate.common.v1 import chat_pb2
from sluicegate.devstack.processes import free_port
from sluicegate.metering.v1 import metering_pb2, metering_pb2_grpc
from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.errors import ServiceError
from sluicegate.runtime.testing import serving
from sluicegate_metering.app import METERING_ADMIN_SERVICE, METERING_SERVICE, make_build
from sluicegate_metering.settings import MeteringSettings

MOCK_CATALOG = Path(__file__).resolve().parents[3] / "deploy" / "catalog" / "mock.yaml"
ADMIN_TOKEN = "integration-admin-token"
ADMIN = [("x-admin-token", ADMIN_TOKEN)]
# balanced, 1,000 prompt tokens at $2.50/M + 500 output tokens at $10/M.
BALANCED_WORST = 7_500


def _settings(redis_url: str, **overrides) -> MeteringSettings:
    values = {
        "port": 0,
        "redis_url": redis_url,
        "admin_token": ADMIN_TOKEN,
        "catalog_path": str(MOCK_CATALOG),
        "log_requests": False,
        "readiness_interval_seconds": 0.2,
        **overrides,
    }
    return MeteringSettings(**values)


class Client:
    """Stubs for both metering services over one channel."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.metering = metering_pb2_grpc.MeteringServiceStub(channel)
        self.admin = metering_pb2_grpc.MeteringAdminServiceStub(channel)


async def _start(stack: AsyncExitStack, settings: MeteringSettings) -> Client:
    running = await stack.enter_async_context(serving("metering", settings, make_build(settings)))
    channel = create_channel(running.address, [METERING_SERVICE, METERING_ADMIN_SERVICE], 5.0)
    stack.push_async_callback(channel.close)
    return Client(channel)


@pytest.fixture
async def client(redis_url):
    async with AsyncExitStack() as stack:
        yield await _start(stack, _settings(redis_url))


async def _failure(call) -> ServiceError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return ServiceError.from_rpc_error(caught.value)


def _charge(completion_tokens: int) -> metering_pb2.UsageCharge:
    usage = chat_pb2.Usage(prompt_tokens=1_000, completion_tokens=completion_tokens)
    return metering_pb2.UsageCharge(model="balanced", deployment="mock-balanced", usage=usage)


async def _tenant_daily_budget(client: Client, limit: int, soft_threshold_ratio: float = 0.0) -> None:
    budget = metering_pb2.Budget(
        scope=metering_pb2.BUDGET_SCOPE_TENANT,
        tenant_id="acme",
        window=metering_pb2.BUDGET_WINDOW_DAILY,
        limit_micros_usd=limit,
        soft_threshold_ratio=soft_threshold_ratio,
    )
    await client.admin.SetBudget(metering_pb2.SetBudgetRequest(budget=budget), metadata=ADMIN)


async def test_admin_calls_need_the_admin_token(client):
    request = metering_pb2.CreateApiKeyRequest(key=metering_pb2.ApiKey(tenant_id="acme"))
    for metadata in ([], [("x-admin-token", "wrong")]):
        for call in (
            client.admin.CreateApiKey(request, metadata=metadata),
            client.admin.GetSpend(metering_pb2.GetSpendRequest(tenant_id="acme"), metadata=metadata),
        ):
            error = await _failure(call)
            assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "ADMIN_REQUIRED")
    assert (await client.admin.CreateApiKey(request, metadata=ADMIN)).secret.startswith("sg-")


async def test_key_lifecycle(client):
    created = await client.admin.CreateApiKey(
        metering_pb2.CreateApiKeyRequest(
            key=metering_pb2.ApiKey(tenant_id="acme", team_id="eng", name="ci", allowed_models=["fast"])
        ),
        metadata=ADMIN,
    )
    secret, key_id = created.secret, created.key.key_id
    listed = await client.admin.ListApiKeys(metering_pb2.ListApiKeysRequest(tenant_id="acme"), metadata=ADMIN)
    assert [key.key_id for key in listed.keys] == [key_id]
    assert listed.keys[0].prefix == secret[:7]
    assert secret[7:].encode() not in listed.SerializeToString()

    principal = (await client.metering.Authenticate(metering_pb2.AuthenticateRequest(api_key=secret))).principal
    assert (principal.tenant_id, principal.team_id, principal.key_id) == ("acme", "eng", key_id)
    assert list(principal.allowed_models) == ["fast"]

    rotated = await client.admin.RotateApiKey(metering_pb2.RotateApiKeyRequest(key_id=key_id), metadata=ADMIN)
    old = await _failure(client.metering.Authenticate(metering_pb2.AuthenticateRequest(api_key=secret)))
    assert (old.code, old.reason) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_INVALID")
    await client.metering.Authenticate(metering_pb2.AuthenticateRequest(api_key=rotated.secret))

    await client.admin.RevokeApiKey(metering_pb2.RevokeApiKeyRequest(key_id=key_id), metadata=ADMIN)
    revoked = await _failure(client.metering.Authenticate(metering_pb2.AuthenticateRequest(api_key=rotated.secret)))
    assert (revoked.code, revoked.reason) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_REVOKED")
    missing = await _failure(client.metering.Authenticate(metering_pb2.AuthenticateRequest()))
    assert (missing.code, missing.reason) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_MISSING")


async def test_authorize_settle_and_the_budget_status(client):
    await _tenant_daily_budget(client, 10_000, soft_threshold_ratio=0.5)
    principal = chat_pb2.Principal(tenant_id="acme", key_id="key_1")
    reservation = await client.metering.Authorize(
        metering_pb2.AuthorizeRequest(principal=principal, model="balanced", prompt_tokens=1_000, max_tokens=500)
    )
    assert reservation.reserved_micros_usd == BALANCED_WORST and reservation.expires_at.seconds > 0
    # Spend plus reservations passed half the limit: the request's decision record carries the soft alert.
    [bucket] = reservation.buckets
    assert (bucket.limit_micros_usd, bucket.remaining_micros_usd, bucket.soft_threshold_reached) == (
        10_000,
        2_500,
        True,
    )
    [status] = (
        await client.admin.GetBudgetStatus(metering_pb2.GetBudgetStatusRequest(tenant_id="acme"), metadata=ADMIN)
    ).budgets
    assert (status.reserved_micros_usd, status.remaining_micros_usd, status.soft_threshold_reached) == (
        BALANCED_WORST,
        2_500,
        False,
    )
    settled = await client.metering.Settle(
        metering_pb2.SettleRequest(reservation_id=reservation.reservation_id, charges=[_charge(300)])
    )
    assert (settled.charged_micros_usd, settled.refunded_micros_usd) == (5_500, 2_000)
    [status] = (
        await client.admin.GetBudgetStatus(metering_pb2.GetBudgetStatusRequest(tenant_id="acme"), metadata=ADMIN)
    ).budgets
    assert (status.spent_micros_usd, status.reserved_micros_usd, status.soft_threshold_reached) == (5_500, 0, True)
    spend = await client.admin.GetSpend(
        metering_pb2.GetSpendRequest(tenant_id="acme", group_by=metering_pb2.SPEND_GROUP_MODEL), metadata=ADMIN
    )
    assert [(row.group, row.spent_micros_usd, row.requests) for row in spend.rows] == [("balanced", 5_500, 1)]
    assert spend.total_micros_usd == 5_500
    again = await _failure(
        client.metering.Settle(metering_pb2.SettleRequest(reservation_id=reservation.reservation_id))
    )
    assert (again.code, again.reason) == (grpc.StatusCode.NOT_FOUND, "RESERVATION_UNKNOWN")


async def test_bad_requests_are_refused_with_the_field(client):
    error = await _failure(client.metering.Authorize(metering_pb2.AuthorizeRequest(model="fast")))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and "principal.tenant_id" in error.message


async def test_200_concurrent_authorizations_on_two_servers_never_overspend(redis_url):
    async with AsyncExitStack() as stack:
        servers = [await _start(stack, _settings(redis_url)) for _ in range(2)]
        await _tenant_daily_budget(servers[0], 50 * BALANCED_WORST)
        principal = chat_pb2.Principal(tenant_id="acme", key_id="key_1")
        request = metering_pb2.AuthorizeRequest(
            principal=principal, model="balanced", prompt_tokens=1_000, max_tokens=500
        )
        outcomes = await asyncio.gather(
            *[servers[index % 2].metering.Authorize(request) for index in range(200)], return_exceptions=True
        )
        granted = [outcome for outcome in outcomes if isinstance(outcome, metering_pb2.AuthorizeResponse)]
        refused = [outcome for outcome in outcomes if isinstance(outcome, grpc.aio.AioRpcError)]
        assert (len(granted), len(refused)) == (50, 150)
        assert {ServiceError.from_rpc_error(error).reason for error in refused} == {"BUDGET_EXCEEDED"}
        settled = await asyncio.gather(
            *[
                servers[index % 2].metering.Settle(
                    metering_pb2.SettleRequest(reservation_id=grant.reservation_id, charges=[_charge(500 - index)])
                )
                for index, grant in enumerate(granted)
            ]
        )
        charged = sum(settlement.charged_micros_usd for settlement in settled)
        [status] = (
            await servers[1].admin.GetBudgetStatus(
                metering_pb2.GetBudgetStatusRequest(tenant_id="acme"), metadata=ADMIN
            )
        ).budgets
        assert status.spent_micros_usd == charged <= 50 * BALANCED_WORST
        assert status.reserved_micros_usd == 0


async def test_without_redis_metering_fails_closed(redis_url):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    async with AsyncExitStack() as stack:
        client = await _start(stack, _settings(dead_redis, key_salt="fixed-salt"))
        principal = chat_pb2.Principal(tenant_id="acme")
        error = await _failure(
            client.metering.Authorize(metering_pb2.AuthorizeRequest(principal=principal, model="fast"))
        )
        assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "METERING_UNAVAILABLE")
        health = await health_pb2_grpc.HealthStub(client.channel).Check(
            health_pb2.HealthCheckRequest(service=METERING_SERVICE)
        )
        assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_the_bootstrap_key_is_created_once_across_restarts(redis_url):
    secret = "sg-demo-0000000000000000000000000000000000000"
    settings = _settings(redis_url, bootstrap_key=secret, bootstrap_tenant="demo")
    for _ in range(2):
        async with AsyncExitStack() as stack:
            client = await _start(stack, settings)
            principal = (await client.metering.Authenticate(metering_pb2.AuthenticateRequest(api_key=secret))).principal
            assert principal.tenant_id == "demo"
            listed = await client.admin.ListApiKeys(metering_pb2.ListApiKeysRequest(tenant_id="demo"), metadata=ADMIN)
            assert len(listed.keys) == 1


async def test_a_stream_is_stopped_when_its_usage_outgrows_the_budget(client):
    await _tenant_daily_budget(client, 10_000)
    principal = chat_pb2.Principal(tenant_id="acme", key_id="key_1")
    reservation = await client.metering.Authorize(
        metering_pb2.AuthorizeRequest(principal=principal, model="balanced", prompt_tokens=1_000, max_tokens=500)
    )
    grown = await client.metering.ReportUsage(
        metering_pb2.ReportUsageRequest(reservation_id=reservation.reservation_id, charges=[_charge(700)])
    )
    assert (grown.within_budget, grown.cost_micros_usd, grown.reserved_micros_usd) == (True, 9_500, 9_500)
    assert grown.expires_at.seconds >= reservation.expires_at.seconds
    stopped = await client.metering.ReportUsage(
        metering_pb2.ReportUsageRequest(reservation_id=reservation.reservation_id, charges=[_charge(800)])
    )
    assert (stopped.within_budget, stopped.reserved_micros_usd) == (False, 9_500)
    settled = await client.metering.Settle(
        metering_pb2.SettleRequest(reservation_id=reservation.reservation_id, charges=[_charge(800)])
    )
    assert (settled.charged_micros_usd, settled.refunded_micros_usd) == (10_500, 0)


async def test_a_settle_with_an_impossible_token_count_is_refused_once_and_moves_no_money(client, redis_url):
    await _tenant_daily_budget(client, 1_000_000)
    principal = chat_pb2.Principal(tenant_id="acme", key_id="key_1")
    reservation = await client.metering.Authorize(
        metering_pb2.AuthorizeRequest(principal=principal, model="balanced", prompt_tokens=1_000, max_tokens=500)
    )
    request = metering_pb2.SettleRequest(reservation_id=reservation.reservation_id, charges=[_charge(10**18)])
    error = await _failure(client.metering.Settle(request))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and "charges[0].usage.completion_tokens" in error.message
    released = await client.metering.Release(metering_pb2.ReleaseRequest(reservation_id=reservation.reservation_id))
    assert released.released_micros_usd == BALANCED_WORST
    status = await client.admin.GetBudgetStatus(metering_pb2.GetBudgetStatusRequest(tenant_id="acme"), metadata=ADMIN)
    assert [(b.spent_micros_usd, b.reserved_micros_usd) for b in status.budgets] == [(0, 0)]


async def test_ids_that_would_share_a_bucket_are_refused_where_they_are_created(client):
    # Tenant "acme" team "x/y" and tenant "acme/x" team "y" would both count in `team:acme/x/y:...`.
    key = metering_pb2.ApiKey(tenant_id="acme/x", team_id="y")
    error = await _failure(client.admin.CreateApiKey(metering_pb2.CreateApiKeyRequest(key=key), metadata=ADMIN))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and "key.tenant_id" in error.message
    budget = metering_pb2.Budget(
        scope=metering_pb2.BUDGET_SCOPE_TEAM,
        tenant_id="acme",
        subject_id="x/y",
        window=metering_pb2.BUDGET_WINDOW_DAILY,
    )
    error = await _failure(client.admin.SetBudget(metering_pb2.SetBudgetRequest(budget=budget), metadata=ADMIN))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT and "budget.subject_id" in error.message
