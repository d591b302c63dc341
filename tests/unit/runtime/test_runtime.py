"""The shared runtime: errors become statuses with details, validation, health follows readiness, ids and deadlines flow."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pydantic_settings import SettingsConfigDict

from sluicegate.cache.v1 import cache_pb2, cache_pb2_grpc
from sluicegate.common.v1 import chat_pb2, errors_pb2
from sluicegate.runtime.channels import create_channel
from sluicegate.runtime.context import remaining_seconds, request_id_var
from sluicegate.runtime.errors import ServiceError, denied, invalid_argument, resource_exhausted
from sluicegate.runtime.server import ServiceApp
from sluicegate.runtime.settings import ServiceSettings, load_settings
from sluicegate.runtime.testing import serving

SERVICE = "sluicegate.cache.v1.CacheService"


class ToySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOY_")


class ToyCache(cache_pb2_grpc.CacheServiceServicer):
    """Answers each RPC in a way that exercises one part of the runtime."""

    seen: dict[str, object] = {}

    async def Lookup(self, request, context):
        if request.key.tenant_id == "boom":
            raise RuntimeError("secret internals that must not reach the client")
        if request.key.tenant_id == "broke":
            raise resource_exhausted(
                errors_pb2.ERROR_REASON_BUDGET_EXCEEDED, "tenant:broke:daily", "daily budget spent"
            )
        ToyCache.seen["request_id"] = request_id_var.get()
        ToyCache.seen["remaining"] = remaining_seconds(default=100.0)
        return cache_pb2.LookupResponse()

    async def GetStats(self, request, context):
        raise denied(grpc.StatusCode.PERMISSION_DENIED, errors_pb2.ERROR_REASON_ADMIN_REQUIRED, "admin only")


def _validate_stats(request: cache_pb2.GetStatsRequest) -> None:
    if not request.tenant_id:
        raise invalid_argument({"tenant_id": "required"})


@pytest.fixture
async def toy():
    ready = {"value": True}

    async def build(app: ServiceApp) -> None:
        app.add_servicer(cache_pb2_grpc.add_CacheServiceServicer_to_server, ToyCache(), SERVICE)
        app.add_validator(cache_pb2.GetStatsRequest, _validate_stats)

        async def check() -> bool:
            return ready["value"]

        app.add_readiness_check("toy", check)

    settings = ToySettings(port=0, readiness_interval_seconds=0.05, log_requests=False)
    async with serving("toy", settings, build) as running:
        channel = create_channel(running.address, [SERVICE], default_timeout_seconds=5)
        yield running, cache_pb2_grpc.CacheServiceStub(channel), channel, ready
        await channel.close()


async def test_service_error_keeps_code_and_details(toy):
    _, stub, _, _ = toy
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Lookup(cache_pb2.LookupRequest(key=cache_pb2.CacheKey(tenant_id="broke")))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    error = ServiceError.from_rpc_error(caught.value)
    assert error.reason == "BUDGET_EXCEEDED"
    quota = next(d for d in error.details if isinstance(d, error_details_pb2.QuotaFailure))
    assert quota.violations[0].subject == "tenant:broke:daily"


async def test_unexpected_exception_is_internal_without_internals(toy):
    _, stub, _, _ = toy
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Lookup(cache_pb2.LookupRequest(key=cache_pb2.CacheKey(tenant_id="boom")))
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "secret internals" not in caught.value.details()
    assert ServiceError.from_rpc_error(caught.value).reason == "INTERNAL"


async def test_validator_rejects_with_bad_request(toy):
    _, stub, _, _ = toy
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetStats(cache_pb2.GetStatsRequest())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad = next(
        d for d in ServiceError.from_rpc_error(caught.value).details if isinstance(d, error_details_pb2.BadRequest)
    )
    assert bad.field_violations[0].field == "tenant_id"


async def test_request_id_and_deadline_reach_the_handler(toy):
    _, stub, _, _ = toy
    await stub.Lookup(cache_pb2.LookupRequest(), metadata=[("x-request-id", "req-123")], timeout=2.0)
    assert ToyCache.seen["request_id"] == "req-123"
    # The handler sees the caller's deadline, not the 100 s default (gRPC's wire encoding of the timeout and the
    # server's clock may put it a few milliseconds past 2 s).
    assert 0 < ToyCache.seen["remaining"] <= 2.05


async def test_the_channel_carries_the_current_calls_request_id_and_its_default_deadline(toy):
    running, _, _, _ = toy
    channel = create_channel(running.address, [SERVICE], default_timeout_seconds=3.0)
    token = request_id_var.set("req-downstream")
    try:
        await cache_pb2_grpc.CacheServiceStub(channel).Lookup(cache_pb2.LookupRequest())
    finally:
        request_id_var.reset(token)
        await channel.close()
    assert ToyCache.seen["request_id"] == "req-downstream"
    assert 2.5 < ToyCache.seen["remaining"] <= 3.05  # the channel's default, not the handler's 100 s fallback


async def test_health_follows_readiness(toy):
    running, _, channel, ready = toy
    health = health_pb2_grpc.HealthStub(channel)
    response = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE))
    assert response.status == health_pb2.HealthCheckResponse.SERVING
    ready["value"] = False
    await running.check_readiness()
    response = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE))
    assert response.status == health_pb2.HealthCheckResponse.NOT_SERVING


def test_bad_settings_fail_fast_naming_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("TOY_PORT", "not-a-port")
    with pytest.raises(SystemExit):
        load_settings(ToySettings)
    assert "TOY_PORT" in capsys.readouterr().err


async def test_a_channel_without_retries_can_call(toy):
    running, _, _, _ = toy
    channel = create_channel(running.address, [SERVICE], default_timeout_seconds=5, retry=False)
    await cache_pb2_grpc.CacheServiceStub(channel).Lookup(cache_pb2.LookupRequest())
    await channel.close()


def test_only_errors_marked_retry_safe_carry_the_mark() -> None:
    from sluicegate.runtime.errors import RETRY_SAFE_KEY, unavailable

    error = unavailable(errors_pb2.ERROR_REASON_GUARD_UNAVAILABLE, "guard down")
    assert RETRY_SAFE_KEY not in dict(error.to_status().trailing_metadata)
    error.retry_safe = True
    status = error.to_status()
    assert dict(status.trailing_metadata)[RETRY_SAFE_KEY] == "true"
    assert "grpc-status-details-bin" in dict(status.trailing_metadata)


async def test_the_channel_default_deadline_is_the_one_configured() -> None:
    """A call without a deadline gets the channel's default, and it is neither cut short nor ignored."""
    import asyncio
    import time

    class Slow(cache_pb2_grpc.CacheServiceServicer):
        async def Lookup(self, request, context):
            await asyncio.sleep(request.control.ttl_seconds / 1000)
            return cache_pb2.LookupResponse()

    async def build(app: ServiceApp) -> None:
        app.add_servicer(cache_pb2_grpc.add_CacheServiceServicer_to_server, Slow(), SERVICE)

    async with serving("slow", ToySettings(port=0, log_requests=False), build) as running:
        channel = create_channel(running.address, [SERVICE], default_timeout_seconds=1.0, retry=False)
        stub = cache_pb2_grpc.CacheServiceStub(channel)
        await stub.Lookup(cache_pb2.LookupRequest(control=chat_pb2.CacheControl(ttl_seconds=600)))  # 0.6 s < 1 s
        started = time.perf_counter()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Lookup(cache_pb2.LookupRequest(control=chat_pb2.CacheControl(ttl_seconds=3000)))
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert 0.9 < time.perf_counter() - started < 2.0
        await channel.close()


async def test_the_start_up_heap_is_frozen_once_the_service_is_ready(toy):
    import gc

    running, _, _, ready = toy
    ready["value"] = False
    await asyncio.sleep(0.2)  # the readiness watch has seen it
    gc.unfreeze()
    running._heap_frozen = False
    assert not await running.check_readiness() and gc.get_freeze_count() == 0
    ready["value"] = True
    assert await running.check_readiness()
    frozen = gc.get_freeze_count()
    assert frozen > 0  # what start-up built is out of the collector's reach
    assert await running.check_readiness() and gc.get_freeze_count() <= frozen  # and only once
