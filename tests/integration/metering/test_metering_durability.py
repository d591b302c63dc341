"""Durability: every acknowledged settle survives Redis being SIGKILLed (append-only file, appendfsync always)."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import redis.asyncio as aioredis

from sluicegate.common.v1 import chat_pb2
from sluicegate.devstack.processes import RedisServer, wait_for_port_free
from sluicegate.metering.v1 import metering_pb2, metering_pb2_grpc
from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.testing import serving
from sluicegate_metering.app import METERING_ADMIN_SERVICE, METERING_SERVICE, make_build
from sluicegate_metering.settings import MeteringSettings

MOCK_CATALOG = Path(__file__).resolve().parents[3] / "deploy" / "catalog" / "mock.yaml"
ADMIN = [("x-admin-token", "durability-admin")]
SETTLES = 30


async def _settle_many(metering: metering_pb2_grpc.MeteringServiceStub) -> dict[str, int]:
    """SETTLES concurrent authorize+settle pairs; reservation id -> charged, for those acknowledged."""
    principal = chat_pb2.Principal(tenant_id="acme", key_id="key_1")

    async def one(completion_tokens: int) -> tuple[str, int]:
        reservation = await metering.Authorize(
            metering_pb2.AuthorizeRequest(principal=principal, model="balanced", prompt_tokens=1_000, max_tokens=500)
        )
        usage = chat_pb2.Usage(prompt_tokens=1_000, completion_tokens=completion_tokens)
        charge = metering_pb2.UsageCharge(model="balanced", deployment="mock-balanced", usage=usage)
        settled = await metering.Settle(
            metering_pb2.SettleRequest(reservation_id=reservation.reservation_id, charges=[charge])
        )
        return reservation.reservation_id, settled.charged_micros_usd

    return dict(await asyncio.gather(*[one(100 + index) for index in range(SETTLES)]))


async def test_acknowledged_settles_survive_a_redis_sigkill(tmp_path):
    redis_server = RedisServer(data_dir=tmp_path / "data", log_dir=tmp_path, appendfsync="always")
    redis_server.start()
    try:
        settings = MeteringSettings(
            port=0,
            redis_url=redis_server.url,
            admin_token="durability-admin",
            catalog_path=str(MOCK_CATALOG),
            log_requests=False,
            key_salt="durability-salt",
        )
        async with AsyncExitStack() as stack:
            running = await stack.enter_async_context(serving("metering", settings, make_build(settings)))
            channel = create_channel(running.address, [METERING_SERVICE, METERING_ADMIN_SERVICE], 5.0)
            stack.push_async_callback(channel.close)
            admin = metering_pb2_grpc.MeteringAdminServiceStub(channel)
            budget = metering_pb2.Budget(
                scope=metering_pb2.BUDGET_SCOPE_TENANT,
                tenant_id="acme",
                window=metering_pb2.BUDGET_WINDOW_DAILY,
                limit_micros_usd=10**9,
            )
            await admin.SetBudget(metering_pb2.SetBudgetRequest(budget=budget), metadata=ADMIN)
            charged = await _settle_many(metering_pb2_grpc.MeteringServiceStub(channel))

            redis_server.kill()
            wait_for_port_free(redis_server.port)
            redis_server = RedisServer(data_dir=tmp_path / "data", log_dir=tmp_path, port=redis_server.port)
            redis_server.start()

            client = aioredis.Redis.from_url(redis_server.url)
            stack.push_async_callback(client.aclose)
            ledger = {
                fields[b"reservation_id"].decode(): int(fields[b"cost_micros_usd"])
                for _, fields in await client.xrange("sg:ledger")
            }
            assert ledger == charged
            # The same server, reconnected, reads the counters back from the restarted Redis.
            [status] = (
                await admin.GetBudgetStatus(metering_pb2.GetBudgetStatusRequest(tenant_id="acme"), metadata=ADMIN)
            ).budgets
            assert (status.spent_micros_usd, status.reserved_micros_usd) == (sum(charged.values()), 0)
            spend = await admin.GetSpend(metering_pb2.GetSpendRequest(tenant_id="acme"), metadata=ADMIN)
            assert (spend.total_micros_usd, spend.rows[0].requests) == (sum(charged.values()), SETTLES)
    finally:
        redis_server.stop()
