"""Reservations move money on every applicable bucket at once; settle, release and reclaim return it exactly."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sluicegate.runtime.errors import ServiceError
from sluicegate_metering.budgets import BudgetBook
from sluicegate_metering.pricing import Pricer
from sluicegate_metering.ratelimits import RateLimitBook
from sluicegate_metering.records import BudgetRule, Principal, RateLimitRule, RateScope, Scope, UsageCharge, Window
from sluicegate_metering.reservations import Meter
from sluicegate_metering.storage import fails_closed

ALICE = Principal("acme", team_id="eng", user_id="alice", key_id="key_1")
TENANT_DAY = "tenant:acme:daily:2026-11-29"
TEAM_MONTH = "team:acme/eng:monthly:2026-11"
KEY_LIFETIME = "key:key_1:lifetime"
USER_DAY = "user:acme/alice:daily:2026-11-29"
# balanced, 1,000 prompt tokens at $2.50/M + 500 output tokens at $10/M.
BALANCED_WORST = 2_500 + 5_000


async def _budget(budgets: BudgetBook, scope: Scope, subject: str, window: Window, limit: int, **extra) -> None:
    await budgets.set(BudgetRule(scope, subject, "acme", window, limit, **extra))


async def _four_budgets(budgets: BudgetBook, user_limit: int = 100_000) -> None:
    await _budget(budgets, Scope.TENANT, "acme", Window.DAILY, 1_000_000)
    await _budget(budgets, Scope.TEAM, "eng", Window.MONTHLY, 500_000)
    await _budget(budgets, Scope.KEY, "key_1", Window.LIFETIME, 200_000)
    await _budget(budgets, Scope.USER, "alice", Window.DAILY, user_limit)


async def _counters(budgets: BudgetBook, *buckets: str) -> dict[str, tuple[int, int]]:
    states = await budgets.bucket_states(buckets)
    return {state.bucket: (state.spent_micros, state.reserved_micros) for state in states}


def _balanced(completion_tokens: int) -> UsageCharge:
    return UsageCharge("balanced", "mock-balanced", prompt_tokens=1_000, completion_tokens=completion_tokens)


async def _error(coro) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        await coro
    return caught.value


async def test_authorize_reserves_the_worst_case_on_every_bucket(meter, budgets):
    await _four_budgets(budgets)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    assert reservation.amount_micros == BALANCED_WORST and reservation.model == "balanced"
    assert {(b.bucket, b.charged_micros, b.remaining_micros) for b in reservation.buckets} == {
        (TENANT_DAY, BALANCED_WORST, 1_000_000 - BALANCED_WORST),
        (TEAM_MONTH, BALANCED_WORST, 500_000 - BALANCED_WORST),
        (KEY_LIFETIME, BALANCED_WORST, 200_000 - BALANCED_WORST),
        (USER_DAY, BALANCED_WORST, 100_000 - BALANCED_WORST),
    }
    counters = await _counters(budgets, TENANT_DAY, TEAM_MONTH, KEY_LIFETIME, USER_DAY)
    assert set(counters.values()) == {(0, BALANCED_WORST)}


async def test_settle_charges_the_actual_cost_and_returns_the_rest_everywhere(meter, budgets, redis_client):
    await _four_budgets(budgets)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500, request_id="req-1")
    settlement = await meter.settle(reservation.reservation_id, [_balanced(200)])
    assert (settlement.charged_micros, settlement.refunded_micros) == (4_500, BALANCED_WORST - 4_500)
    assert {b.bucket: b.remaining_micros for b in settlement.buckets}[USER_DAY] == 100_000 - 4_500
    counters = await _counters(budgets, TENANT_DAY, TEAM_MONTH, KEY_LIFETIME, USER_DAY)
    assert set(counters.values()) == {(4_500, 0)}
    [(_, entry)] = await redis_client.xrange("sg:ledger")
    assert entry[b"reservation_id"] == reservation.reservation_id.encode()
    assert entry[b"request_id"] == b"req-1" and entry[b"user_id"] == b"alice" and entry[b"team_id"] == b"eng"
    assert (entry[b"deployment"], entry[b"cost_micros_usd"], entry[b"day"]) == (
        b"mock-balanced",
        b"4500",
        b"2026-11-29",
    )


async def test_release_returns_the_whole_reservation(meter, budgets):
    await _four_budgets(budgets)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    assert await meter.release(reservation.reservation_id) == BALANCED_WORST
    counters = await _counters(budgets, TENANT_DAY, TEAM_MONTH, KEY_LIFETIME, USER_DAY)
    assert set(counters.values()) == {(0, 0)}
    assert (await _error(meter.release(reservation.reservation_id))).reason == "RESERVATION_UNKNOWN"


async def test_an_exhausted_bucket_is_named_and_nothing_is_reserved_anywhere(meter, budgets):
    await _four_budgets(budgets, user_limit=10_000)
    await meter.authorize(ALICE, "balanced", 1_000, 500)
    error = await _error(meter.authorize(ALICE, "balanced", 1_000, 500))
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED and error.reason == "BUDGET_EXCEEDED"
    quota = next(d for d in error.details if isinstance(d, error_details_pb2.QuotaFailure))
    assert [violation.subject for violation in quota.violations] == [USER_DAY]
    counters = await _counters(budgets, TENANT_DAY, TEAM_MONTH, KEY_LIFETIME, USER_DAY)
    assert set(counters.values()) == {(0, BALANCED_WORST)}


async def test_budgets_of_other_subjects_do_not_apply(meter, budgets):
    await _budget(budgets, Scope.USER, "bob", Window.DAILY, 1)
    await _budget(budgets, Scope.TEAM, "sales", Window.DAILY, 1)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    assert reservation.buckets == []
    assert (await meter.settle(reservation.reservation_id, [_balanced(500)])).charged_micros == BALANCED_WORST


async def test_settle_is_idempotent(meter, budgets):
    await _four_budgets(budgets)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    await meter.settle(reservation.reservation_id, [_balanced(200)])
    error = await _error(meter.settle(reservation.reservation_id, [_balanced(200)]))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "RESERVATION_UNKNOWN")
    assert (await _counters(budgets, TENANT_DAY))[TENANT_DAY] == (4_500, 0)


async def test_concurrent_settles_of_one_reservation_charge_once(meter, budgets):
    await _four_budgets(budgets)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    outcomes = await asyncio.gather(
        *[meter.settle(reservation.reservation_id, [_balanced(200)]) for _ in range(5)], return_exceptions=True
    )
    assert sum(not isinstance(outcome, Exception) for outcome in outcomes) == 1
    assert (await _counters(budgets, TENANT_DAY))[TENANT_DAY] == (4_500, 0)


async def test_overage_is_charged_and_blocks_the_next_call(meter, budgets):
    await _budget(budgets, Scope.TENANT, "acme", Window.DAILY, 10_000)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    settlement = await meter.settle(reservation.reservation_id, [_balanced(1_000)])
    assert settlement.charged_micros == 12_500
    assert settlement.buckets[0].remaining_micros == 0
    spent, reserved = (await _counters(budgets, TENANT_DAY))[TENANT_DAY]
    assert (spent, reserved) == (12_500, 0)
    assert spent - 10_000 <= settlement.charged_micros - reservation.amount_micros
    assert (await _error(meter.authorize(ALICE, "fast", 10, 10))).reason == "BUDGET_EXCEEDED"


async def test_downgrade_reserves_the_cheapest_model_that_fits(meter, budgets):
    await _budget(budgets, Scope.TENANT, "acme", Window.DAILY, 5_000)
    assert (await _error(meter.authorize(ALICE, "reasoning", 1_000, 500))).reason == "BUDGET_EXCEEDED"
    reservation = await meter.authorize(ALICE, "reasoning", 1_000, 500, allow_downgrade=True)
    assert (reservation.model, reservation.downgraded_from) == ("fast", "reasoning")
    assert reservation.amount_micros == 150 + 300
    assert (await _counters(budgets, TENANT_DAY))[TENANT_DAY] == (0, 450)


async def test_a_budget_may_allow_downgrades_for_every_request(meter, budgets):
    await _budget(budgets, Scope.TENANT, "acme", Window.DAILY, 5_000, allow_downgrade=True)
    reservation = await meter.authorize(ALICE, "reasoning", 1_000, 500)
    assert (reservation.model, reservation.downgraded_from) == ("fast", "reasoning")


async def test_a_call_that_fits_is_never_downgraded(meter, budgets):
    await _budget(budgets, Scope.TENANT, "acme", Window.DAILY, 1_000_000, allow_downgrade=True)
    reservation = await meter.authorize(ALICE, "reasoning", 1_000, 500, allow_downgrade=True)
    assert (reservation.model, reservation.downgraded_from) == ("reasoning", "")


async def test_expired_reservations_are_reclaimed(meter, budgets, clock):
    await _four_budgets(budgets)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    clock.advance(599)
    assert await meter.reclaim_expired() == 0
    clock.advance(2)
    assert await meter.reclaim_expired() == 1
    counters = await _counters(budgets, TENANT_DAY, TEAM_MONTH, KEY_LIFETIME, USER_DAY)
    assert set(counters.values()) == {(0, 0)}
    assert (await _error(meter.settle(reservation.reservation_id, [_balanced(1)]))).reason == "RESERVATION_UNKNOWN"
    assert await meter.reclaim_expired() == 0


async def test_report_usage_allows_what_the_reservation_and_the_buckets_cover(meter, budgets):
    await _budget(budgets, Scope.USER, "alice", Window.DAILY, 10_000)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    within = await meter.report_usage(reservation.reservation_id, [_balanced(750)])
    assert (within.within_budget, within.cost_micros) == (True, 10_000)
    beyond = await meter.report_usage(reservation.reservation_id, [_balanced(751)])
    assert (beyond.within_budget, beyond.cost_micros) == (False, 10_010)


async def test_model_rules_are_checked_before_money(meter):
    limited = Principal("acme", key_id="key_2", allowed_models=("fast",))
    error = await _error(meter.authorize(limited, "balanced", 10, 10))
    assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "MODEL_NOT_ALLOWED")
    error = await _error(meter.authorize(limited, "gpt-9", 10, 10))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "MODEL_UNKNOWN")


async def test_the_default_tenant_daily_budget_applies_until_one_is_set(redis_client, catalog, clock):
    budgets = BudgetBook(redis_client, clock, default_tenant_daily_micros=5_000)
    meter = Meter(redis_client, Pricer(catalog), budgets, clock)
    error = await _error(meter.authorize(ALICE, "balanced", 1_000, 500))
    assert error.details[0].metadata["bucket"] == TENANT_DAY
    await _budget(budgets, Scope.TENANT, "acme", Window.DAILY, 8_000)
    assert (await meter.authorize(ALICE, "balanced", 1_000, 500)).amount_micros == BALANCED_WORST


async def test_a_daily_budget_starts_afresh_the_next_utc_day(meter, budgets, clock):
    await _budget(budgets, Scope.TENANT, "acme", Window.DAILY, 8_000)
    await _budget(budgets, Scope.TEAM, "eng", Window.MONTHLY, 100_000)
    first = await meter.authorize(ALICE, "balanced", 1_000, 500)
    await meter.settle(first.reservation_id, [_balanced(500)])
    assert (await _error(meter.authorize(ALICE, "balanced", 1_000, 500))).reason == "BUDGET_EXCEEDED"
    clock.advance(14 * 3600)
    second = await meter.authorize(ALICE, "balanced", 1_000, 500)
    assert {b.bucket: b.remaining_micros for b in second.buckets} == {
        "tenant:acme:daily:2026-11-30": 8_000 - BALANCED_WORST,
        TEAM_MONTH: 100_000 - 2 * BALANCED_WORST,
    }


async def test_concurrent_authorizations_never_overspend(meter, budgets):
    await _budget(budgets, Scope.TENANT, "acme", Window.DAILY, 50 * BALANCED_WORST)
    outcomes = await asyncio.gather(
        *[meter.authorize(ALICE, "balanced", 1_000, 500) for _ in range(200)], return_exceptions=True
    )
    reservations = [outcome for outcome in outcomes if not isinstance(outcome, Exception)]
    assert len(reservations) == 50
    assert all(isinstance(o, ServiceError) and o.reason == "BUDGET_EXCEEDED" for o in outcomes if o not in reservations)


async def test_a_budget_resets_at_its_own_hour(meter, budgets, clock):
    # 10:00 UTC: a daily budget that resets at 11:00 is still in the window that began yesterday at 11:00.
    await _budget(budgets, Scope.TENANT, "acme", Window.DAILY, BALANCED_WORST + 100, reset_hour_utc=11)
    first = await meter.authorize(ALICE, "balanced", 1_000, 500)
    assert [bucket.bucket for bucket in first.buckets] == ["tenant:acme:daily:2026-11-28T11"]
    await meter.settle(first.reservation_id, [_balanced(500)])
    refused = await _error(meter.authorize(ALICE, "balanced", 1_000, 500))
    assert refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED

    clock.advance(3600)  # 11:00 UTC: a new window, with the whole limit
    second = await meter.authorize(ALICE, "balanced", 1_000, 500)
    assert [bucket.bucket for bucket in second.buckets] == ["tenant:acme:daily:2026-11-29T11"]


def test_a_window_with_a_reset_hour_expires_a_day_after_it_began():
    from datetime import UTC, datetime

    from sluicegate_metering.budgets import BUCKET_GRACE, bucket_expires_at, bucket_expires_at_from_id

    began = datetime(2026, 11, 29, 11, tzinfo=UTC).timestamp()
    expected = int((datetime(2026, 11, 30, 11, tzinfo=UTC) + BUCKET_GRACE).timestamp())
    assert bucket_expires_at(Window.DAILY, began + 5 * 3600, 11) == expected
    assert bucket_expires_at_from_id("tenant:acme:daily:2026-11-29T11") == expected
    midnight = int((datetime(2026, 11, 30, tzinfo=UTC) + BUCKET_GRACE).timestamp())
    assert bucket_expires_at_from_id("tenant:acme:daily:2026-11-29") == midnight


async def _until(condition, seconds: float = 2.0) -> None:
    """Returns once `condition()` holds, or after `seconds` (the assertions that follow then say what is wrong)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await condition() and loop.time() < deadline:
        await asyncio.sleep(0.01)


async def test_only_an_outage_is_unavailable_and_a_script_error_is_internal():
    @fails_closed
    async def failing(error: Exception) -> None:
        raise error

    outcomes = {
        ResponseError("ERR increment or decrement would overflow script: 215d, on @user_script:49."): "INTERNAL",
        ResponseError("READONLY You can't write against a read only replica."): "UNAVAILABLE",
        ReadOnlyError("You can't write against a read only replica."): "UNAVAILABLE",
        RedisTimeoutError("no reply in time"): "UNAVAILABLE",
        RedisConnectionError("connection lost"): "UNAVAILABLE",
    }
    for error, code in outcomes.items():
        assert (await _error(failing(error))).code.name == code, error


async def test_a_settle_the_script_refuses_changes_nothing_and_the_reservation_returns_once(meter, budgets):
    await _four_budgets(budgets)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    # Beyond what the RPCs admit (validation bounds token counts): the script refuses before its first write.
    error = await _error(meter.settle(reservation.reservation_id, [_balanced(10**18)]))
    assert error.code == grpc.StatusCode.INTERNAL
    counters = await _counters(budgets, TENANT_DAY, TEAM_MONTH, KEY_LIFETIME, USER_DAY)
    assert set(counters.values()) == {(0, BALANCED_WORST)}
    assert await meter.release(reservation.reservation_id) == BALANCED_WORST
    counters = await _counters(budgets, TENANT_DAY, TEAM_MONTH, KEY_LIFETIME, USER_DAY)
    assert set(counters.values()) == {(0, 0)}


async def test_an_authorize_the_script_refuses_reserves_and_counts_nothing(meter, budgets, redis_client):
    await RateLimitBook(redis_client, ["fast"]).set(RateLimitRule(RateScope.TENANT, "acme", "acme", 100))
    await _budget(budgets, Scope.TENANT, "acme", Window.LIFETIME, 2**62)  # past what SetBudget admits
    error = await _error(meter.authorize(ALICE, "fast", 10**17, 1))
    assert error.code == grpc.StatusCode.INTERNAL
    assert (await _counters(budgets, "tenant:acme:lifetime"))["tenant:acme:lifetime"] == (0, 0)
    assert [key async for key in redis_client.scan_iter(match="sg:rate:*")] == []
    assert await redis_client.hlen("sg:resv-holds") == 0


async def test_an_authorize_whose_reply_is_lost_is_returned_off_the_request_path(
    meter, budgets, redis_client, monkeypatch
):
    await _four_budgets(budgets)
    script = meter._authorize_script

    async def ran_but_no_reply_in_time(**call):
        await script(**call)
        raise RedisTimeoutError("no reply in time")

    monkeypatch.setattr(meter, "_authorize_script", ran_but_no_reply_in_time)
    error = await _error(meter.authorize(ALICE, "balanced", 1_000, 500))
    assert error.code == grpc.StatusCode.UNAVAILABLE  # the caller retries, under a new reservation id

    async def returned() -> bool:
        return await redis_client.hlen("sg:resv-holds") == 0

    await _until(returned)
    counters = await _counters(budgets, TENANT_DAY, TEAM_MONTH, KEY_LIFETIME, USER_DAY)
    assert set(counters.values()) == {(0, 0)}


async def test_an_authorize_that_runs_after_its_caller_gave_up_reserves_nothing(
    meter, budgets, redis_client, monkeypatch
):
    await _four_budgets(budgets)
    script = meter._authorize_script
    sent = []

    async def connection_lost_before_it_ran(**call):
        sent.append(call)
        raise RedisConnectionError("connection lost")

    monkeypatch.setattr(meter, "_authorize_script", connection_lost_before_it_ran)
    assert (await _error(meter.authorize(ALICE, "balanced", 1_000, 500))).code == grpc.StatusCode.UNAVAILABLE

    async def voided() -> bool:
        return [key async for key in redis_client.scan_iter(match="sg:resv-void:*")] != []

    await _until(voided)
    await script(**sent[0])  # Redis runs the call only now (it was stalled): too late
    counters = await _counters(budgets, TENANT_DAY, TEAM_MONTH, KEY_LIFETIME, USER_DAY)
    assert set(counters.values()) == {(0, 0)}
    assert await redis_client.hlen("sg:resv-holds") == 0


async def test_a_settle_after_expiry_is_unknown_on_every_replica(meter, budgets, redis_client, catalog, clock):
    await _budget(budgets, Scope.TENANT, "acme", Window.DAILY, 1_000_000)
    other = Meter(redis_client, Pricer(catalog), BudgetBook(redis_client, clock), clock, reservation_ttl_seconds=600)
    mine = await meter.authorize(ALICE, "balanced", 1_000, 500)
    theirs = await meter.authorize(ALICE, "balanced", 1_000, 500)
    clock.advance(600)  # expired by the replicas' clock; Redis, on its own clock, still has both records
    for settling, reservation in ((meter, mine), (other, theirs)):
        error = await _error(settling.settle(reservation.reservation_id, [_balanced(100)]))
        assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "RESERVATION_UNKNOWN")
    assert (await _counters(budgets, TENANT_DAY))[TENANT_DAY] == (0, 2 * BALANCED_WORST)
    assert await meter.reclaim_expired() == 2
    assert (await _counters(budgets, TENANT_DAY))[TENANT_DAY] == (0, 0)


async def test_a_reservation_extended_after_the_reclaimer_listed_it_is_not_reclaimed(
    meter, budgets, redis_client, catalog, clock, monkeypatch
):
    await _budget(budgets, Scope.TENANT, "acme", Window.DAILY, 1_000_000)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    clock.advance(600)
    reclaimer = Meter(redis_client, Pricer(catalog), BudgetBook(redis_client, clock), clock)
    listing = redis_client.zrangebyscore

    async def extended_meanwhile(*args, **kwargs):
        listed = await listing(*args, **kwargs)
        check = await meter.report_usage(reservation.reservation_id, [_balanced(10)])  # the stream goes on
        assert check.within_budget
        return listed

    monkeypatch.setattr(redis_client, "zrangebyscore", extended_meanwhile)
    assert await reclaimer.reclaim_expired() == 0
    monkeypatch.setattr(redis_client, "zrangebyscore", listing)
    assert (await meter.settle(reservation.reservation_id, [_balanced(400)])).charged_micros == 2_500 + 4_000
    assert (await _counters(budgets, TENANT_DAY))[TENANT_DAY] == (6_500, 0)
