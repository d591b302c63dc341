"""Two metering servers on one Redis: rate limits hold across them; spend exports as CSV and JSON."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from contextlib import AsyncExitStack
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2

from sluicegate.common.v1 import chat_pb2
from sluicegate.metering.v1 import metering_pb2, metering_pb2_grpc
from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.errors import ServiceError
from sluicegate.runtime.testing import serving
from sluicegate_metering.app import METERING_ADMIN_SERVICE, METERING_SERVICE, make_build
from sluicegate_metering.export import export_spend
from sluicegate_metering.settings import MeteringSettings

MOCK_CATALOG = Path(__file__).resolve().parents[3] / "deploy" / "catalog" / "mock.yaml"
ADMIN_TOKEN = "replica-admin-token"
ADMIN = [("x-admin-token", ADMIN_TOKEN)]
# fast: 1,000 prompt tokens and 500 output tokens.
CALL_TOKENS = 1_500


@pytest.fixture
async def replicas(redis_url):
    """Two metering servers sharing the test Redis: (address, metering stub, admin stub) each."""
    settings = MeteringSettings(
        port=0, redis_url=redis_url, admin_token=ADMIN_TOKEN, catalog_path=str(MOCK_CATALOG), log_requests=False
    )
    async with AsyncExitStack() as stack:
        servers = []
        for _ in range(2):
            running = await stack.enter_async_context(serving("metering", settings, make_build(settings)))
            channel = create_channel(running.address, [METERING_SERVICE, METERING_ADMIN_SERVICE], 5.0)
            stack.push_async_callback(channel.close)
            servers.append(
                (
                    running.address,
                    metering_pb2_grpc.MeteringServiceStub(channel),
                    metering_pb2_grpc.MeteringAdminServiceStub(channel),
                )
            )
        yield servers


def _authorize(principal: chat_pb2.Principal) -> metering_pb2.AuthorizeRequest:
    return metering_pb2.AuthorizeRequest(principal=principal, model="fast", prompt_tokens=1_000, max_tokens=500)


async def _spread(replicas, request, calls: int) -> tuple[list, list[ServiceError]]:
    """`calls` concurrent Authorize calls, alternating between the replicas: (granted, refused)."""
    outcomes = await asyncio.gather(
        *[replicas[index % 2][1].Authorize(request) for index in range(calls)], return_exceptions=True
    )
    refused = [ServiceError.from_rpc_error(o) for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    return [o for o in outcomes if isinstance(o, metering_pb2.AuthorizeResponse)], refused


async def test_a_tenant_request_limit_holds_across_two_replicas(replicas):
    limit = metering_pb2.RateLimit(scope=metering_pb2.RATE_LIMIT_SCOPE_TENANT, tenant_id="acme", requests_per_minute=10)
    await replicas[0][2].SetRateLimit(metering_pb2.SetRateLimitRequest(rate_limit=limit), metadata=ADMIN)
    granted, refused = await _spread(replicas, _authorize(chat_pb2.Principal(tenant_id="acme")), 40)
    assert (len(granted), len(refused)) == (10, 30)
    for error in refused:
        assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED")
        quota = next(d for d in error.details if isinstance(d, error_details_pb2.QuotaFailure))
        assert quota.violations[0].subject == "tenant:acme:requests_per_minute"
        retry = next(d for d in error.details if isinstance(d, error_details_pb2.RetryInfo))
        assert 0 < retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9 <= 120


async def test_a_keys_own_token_limit_holds_across_two_replicas(replicas):
    created = await replicas[1][2].CreateApiKey(
        metering_pb2.CreateApiKeyRequest(
            key=metering_pb2.ApiKey(tenant_id="globex", tokens_per_minute=4 * CALL_TOKENS)
        ),
        metadata=ADMIN,
    )
    principal = await replicas[0][1].Authenticate(metering_pb2.AuthenticateRequest(api_key=created.secret))
    granted, refused = await _spread(replicas, _authorize(principal.principal), 20)
    assert (len(granted), len(refused)) == (4, 16)
    assert {error.reason for error in refused} == {"RATE_LIMITED"}


async def test_spend_exports_as_csv_and_json_grouped_as_asked(replicas):
    address, metering, admin = replicas[0]
    for key_id, model, deployment in (("key_1", "fast", "mock-fast"), ("key_2", "balanced", "mock-balanced")):
        principal = chat_pb2.Principal(tenant_id="acme", team_id="eng", key_id=key_id)
        reservation = await metering.Authorize(
            metering_pb2.AuthorizeRequest(principal=principal, model=model, prompt_tokens=1_000, max_tokens=500)
        )
        usage = chat_pb2.Usage(prompt_tokens=1_000, completion_tokens=100)
        charge = metering_pb2.UsageCharge(model=model, deployment=deployment, usage=usage)
        await metering.Settle(metering_pb2.SettleRequest(reservation_id=reservation.reservation_id, charges=[charge]))

    rows = list(csv.DictReader(io.StringIO(await export_spend(address, ADMIN_TOKEN, "acme"))))
    assert [(row["key_id"], row["model"], row["requests"]) for row in rows] == [
        ("key_2", "balanced", "1"),
        ("key_1", "fast", "1"),
    ]
    by_team = json.loads(await export_spend(address, ADMIN_TOKEN, "acme", columns=["team_id"], output_format="json"))
    assert by_team == [
        {
            "team_id": "eng",
            "spent_micros_usd": sum(int(row["spent_micros_usd"]) for row in rows),
            "requests": 2,
            "prompt_tokens": 2_000,
            "completion_tokens": 200,
        }
    ]


async def test_a_budget_set_on_one_replica_binds_the_other_at_once_and_either_settles(replicas):
    (_, first, first_admin), (_, second, second_admin) = replicas
    principal = chat_pb2.Principal(tenant_id="acme", team_id="eng")
    budget = metering_pb2.Budget(
        scope=metering_pb2.BUDGET_SCOPE_TENANT,
        tenant_id="acme",
        window=metering_pb2.BUDGET_WINDOW_DAILY,
        limit_micros_usd=1_000_000,
    )
    await first_admin.SetBudget(metering_pb2.SetBudgetRequest(budget=budget), metadata=ADMIN)
    held = await second.Authorize(_authorize(principal))
    usage = chat_pb2.Usage(prompt_tokens=1_000, completion_tokens=100)
    charge = metering_pb2.UsageCharge(model="fast", deployment="mock-fast", usage=usage)
    settled = await first.Settle(metering_pb2.SettleRequest(reservation_id=held.reservation_id, charges=[charge]))
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await second.Settle(metering_pb2.SettleRequest(reservation_id=held.reservation_id, charges=[charge]))
    assert again.value.code() == grpc.StatusCode.NOT_FOUND

    budget.limit_micros_usd = settled.charged_micros_usd + held.reserved_micros_usd - 1
    await first_admin.SetBudget(metering_pb2.SetBudgetRequest(budget=budget), metadata=ADMIN)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await second.Authorize(_authorize(principal))
    assert ServiceError.from_rpc_error(refused.value).reason == "BUDGET_EXCEEDED"
    status = await second_admin.GetBudgetStatus(metering_pb2.GetBudgetStatusRequest(tenant_id="acme"), metadata=ADMIN)
    assert [(b.spent_micros_usd, b.reserved_micros_usd) for b in status.budgets] == [(settled.charged_micros_usd, 0)]
