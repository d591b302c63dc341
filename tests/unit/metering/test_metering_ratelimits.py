"""Rate limits: requests and tokens per minute per key, tenant and model, checked with the budget at once."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2

from sluicegate.runtime.errors import ServiceError
from sluicegate_metering.budgets import BudgetBook
from sluicegate_metering.pricing import Pricer
from sluicegate_metering.ratelimits import DefaultRates, RateLimitBook
from sluicegate_metering.records import (
    BudgetRule,
    KeySpec,
    Principal,
    RateLimitRule,
    RateScope,
    Scope,
    UsageCharge,
    Window,
)
from sluicegate_metering.reservations import Meter

ALICE = Principal("acme", key_id="key_1")
TENANT_DAY = "tenant:acme:daily:2026-11-29"


@pytest.fixture
def rate_limits(redis_client, catalog) -> RateLimitBook:
    return RateLimitBook(redis_client, list(catalog.models))


async def _error(coro) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        await coro
    return caught.value


def _detail(error: ServiceError, detail_type):
    return next(detail for detail in error.details if isinstance(detail, detail_type))


def _wait_seconds(error: ServiceError) -> float:
    delay = _detail(error, error_details_pb2.RetryInfo).retry_delay
    return delay.seconds + delay.nanos / 1e9


async def test_a_tenant_limit_refuses_with_the_limit_and_the_wait_and_reserves_nothing(
    meter, budgets, rate_limits, clock
):
    await budgets.set(BudgetRule(Scope.TENANT, "acme", "acme", Window.DAILY, 1_000_000))
    await rate_limits.set(RateLimitRule(RateScope.TENANT, "acme", "acme", requests_per_minute=3))
    for _ in range(3):
        await meter.authorize(ALICE, "fast", 100, 100)
    clock.advance(20)
    error = await _error(meter.authorize(ALICE, "fast", 100, 100))
    assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED")
    [violation] = _detail(error, error_details_pb2.QuotaFailure).violations
    assert violation.subject == "tenant:acme:requests_per_minute"
    [state] = await budgets.bucket_states([TENANT_DAY])
    assert state.reserved_micros == 3 * (await meter.authorize(Principal("other"), "fast", 100, 100)).amount_micros

    # The three calls fall out of the sliding minute exactly when RetryInfo says one fits again.
    wait = _wait_seconds(error)
    clock.advance(wait - 0.01)
    assert (await _error(meter.authorize(ALICE, "fast", 100, 100))).reason == "RATE_LIMITED"
    clock.advance(0.01)
    await meter.authorize(ALICE, "fast", 100, 100)


async def test_a_keys_own_token_limit_counts_worst_case_tokens_and_settle_corrects_them(
    meter, keys, redis_client, clock
):
    issued = await keys.create(KeySpec(tenant_id="acme", tokens_per_minute=3_000))
    principal = issued.record.principal
    first = await meter.authorize(principal, "fast", 1_000, 500)
    second = await meter.authorize(principal, "fast", 1_000, 500)
    error = await _error(meter.authorize(principal, "fast", 1_000, 500))
    assert _detail(error, error_details_pb2.QuotaFailure).violations[0].subject == (
        f"key:{issued.record.key_id}:tokens_per_minute"
    )
    await meter.release(first.reservation_id)
    third = await meter.authorize(principal, "fast", 1_000, 500)
    await meter.settle(second.reservation_id, [UsageCharge("fast", "mock-fast", 1_000, 100)])
    window = f"sg:rate:key:{issued.record.key_id}:{int(clock() * 1000) // 60_000 * 60_000}"
    assert await redis_client.hmget(window, "requests", "tokens") == [b"3", str(1_100 + 1_500).encode()]
    await meter.release(third.reservation_id)


async def test_a_model_limit_counts_only_calls_to_that_model(meter, rate_limits):
    await rate_limits.set(RateLimitRule(RateScope.MODEL, "", "balanced", requests_per_minute=1))
    await meter.authorize(ALICE, "balanced", 100, 100)
    error = await _error(meter.authorize(Principal("globex", key_id="key_9"), "balanced", 100, 100))
    assert _detail(error, error_details_pb2.QuotaFailure).violations[0].subject == (
        "model:*/balanced:requests_per_minute"
    )
    await meter.authorize(ALICE, "fast", 100, 100)


async def test_a_call_larger_than_the_token_limit_never_fits_so_no_wait_is_offered(meter, rate_limits):
    await rate_limits.set(RateLimitRule(RateScope.MODEL, "acme", "fast", tokens_per_minute=1_000))
    error = await _error(meter.authorize(ALICE, "fast", 800, 400))
    assert error.reason == "RATE_LIMITED" and "never fit" in error.message
    assert not any(isinstance(detail, error_details_pb2.RetryInfo) for detail in error.details)
    await rate_limits.set(RateLimitRule(RateScope.MODEL, "acme", "fast"))
    await meter.authorize(ALICE, "fast", 800, 400)


async def test_the_default_tenant_limit_applies_until_one_is_set(redis_client, catalog, clock, rate_limits):
    meter = Meter(redis_client, Pricer(catalog), BudgetBook(redis_client, clock), clock, default_rates=DefaultRates(1))
    await meter.authorize(ALICE, "fast", 10, 10)
    assert (await _error(meter.authorize(ALICE, "fast", 10, 10))).reason == "RATE_LIMITED"
    await rate_limits.set(RateLimitRule(RateScope.TENANT, "acme", "acme", requests_per_minute=5))
    await meter.authorize(ALICE, "fast", 10, 10)


async def test_a_model_limit_on_an_unknown_model_is_refused(rate_limits):
    error = await _error(rate_limits.set(RateLimitRule(RateScope.MODEL, "", "gpt-9", requests_per_minute=1)))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "MODEL_UNKNOWN")


async def test_after_a_downgrade_the_limits_of_the_model_reserved_apply(meter, budgets, rate_limits):
    await budgets.set(BudgetRule(Scope.TENANT, "acme", "acme", Window.DAILY, 5_000, allow_downgrade=True))
    await rate_limits.set(RateLimitRule(RateScope.MODEL, "acme", "reasoning", requests_per_minute=1))
    await rate_limits.set(RateLimitRule(RateScope.MODEL, "acme", "fast", requests_per_minute=2))
    for _ in range(2):
        assert (await meter.authorize(ALICE, "reasoning", 1_000, 500)).model == "fast"
    error = await _error(meter.authorize(ALICE, "reasoning", 1_000, 500))
    assert _detail(error, error_details_pb2.QuotaFailure).violations[0].subject == (
        "model:acme/fast:requests_per_minute"
    )
