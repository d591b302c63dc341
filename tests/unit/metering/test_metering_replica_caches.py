"""What a replica remembers (budget views, its own reservations) never outlives a change made elsewhere."""

from __future__ import annotations

import asyncio
import json

import pytest

from sluicegate.runtime.errors import ServiceError
from sluicegate_metering.budgets import BudgetBook
from sluicegate_metering.holds import HeldReservation, RecentHolds
from sluicegate_metering.pricing import Pricer
from sluicegate_metering.ratelimits import RateLimitBook
from sluicegate_metering.records import (
    BudgetRule,
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

ALICE = Principal("acme", team_id="eng", user_id="alice", key_id="key_1")
TENANT_DAY = "tenant:acme:daily:2026-11-29"
USER_DAY = "user:acme/alice:daily:2026-11-29"
# balanced, 1,000 prompt tokens at $2.50/M + 500 output tokens at $10/M.
BALANCED_WORST = 2_500 + 5_000


@pytest.fixture
def other_budgets(redis_client, clock) -> BudgetBook:
    """The budget book of another replica on the same Redis."""
    return BudgetBook(redis_client, clock)


@pytest.fixture
def other_meter(redis_client, catalog, other_budgets, clock) -> Meter:
    """The meter of another replica on the same Redis."""
    return Meter(redis_client, Pricer(catalog), other_budgets, clock, reservation_ttl_seconds=600)


async def _error(coro) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        await coro
    return caught.value


def _balanced(completion_tokens: int) -> UsageCharge:
    return UsageCharge("balanced", "mock-balanced", prompt_tokens=1_000, completion_tokens=completion_tokens)


async def test_a_budget_changed_on_another_replica_applies_to_the_very_next_authorization(
    meter, budgets, other_budgets, redis_client
):
    await budgets.set(BudgetRule(Scope.TENANT, "acme", "acme", Window.DAILY, 1_000_000))
    first = await meter.authorize(ALICE, "balanced", 1_000, 500)
    assert [bucket.bucket for bucket in first.buckets] == [TENANT_DAY]

    await other_budgets.set(BudgetRule(Scope.TENANT, "acme", "acme", Window.DAILY, BALANCED_WORST + 10))
    refused = await _error(meter.authorize(ALICE, "balanced", 1_000, 500))
    assert (refused.reason, refused.message) == (
        "BUDGET_EXCEEDED",
        f"budget {TENANT_DAY} has 10 micro-USD left; the call may cost up to {BALANCED_WORST}",
    )

    await other_budgets.set(BudgetRule(Scope.TENANT, "acme", "acme", Window.DAILY, 1_000_000))
    await other_budgets.set(BudgetRule(Scope.USER, "alice", "acme", Window.DAILY, 50_000))
    added = await meter.authorize(ALICE, "balanced", 1_000, 500)
    assert {bucket.bucket: bucket.remaining_micros for bucket in added.buckets} == {
        TENANT_DAY: 1_000_000 - 2 * BALANCED_WORST,
        USER_DAY: 50_000 - BALANCED_WORST,
    }

    # Even a budget removed by hand, behind every replica's back, stops applying at once.
    await redis_client.hdel("sg:budgets:acme", "user:daily:alice")
    removed = await meter.authorize(ALICE, "balanced", 1_000, 500)
    assert [bucket.bucket for bucket in removed.buckets] == [TENANT_DAY]


async def test_concurrent_authorizations_never_overspend_a_budget_lowered_on_another_replica(
    meter, budgets, other_budgets
):
    await budgets.set(BudgetRule(Scope.TENANT, "acme", "acme", Window.DAILY, 10**9))
    warm = await meter.authorize(ALICE, "balanced", 1_000, 500)
    await meter.release(warm.reservation_id)

    await other_budgets.set(BudgetRule(Scope.TENANT, "acme", "acme", Window.DAILY, 50 * BALANCED_WORST))
    outcomes = await asyncio.gather(
        *[meter.authorize(ALICE, "balanced", 1_000, 500) for _ in range(200)], return_exceptions=True
    )
    granted = [outcome for outcome in outcomes if not isinstance(outcome, Exception)]
    assert len(granted) == 50
    refused = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    assert all(isinstance(error, ServiceError) and error.reason == "BUDGET_EXCEEDED" for error in refused)
    [state] = await budgets.bucket_states([TENANT_DAY])
    assert (state.limit_micros, state.reserved_micros) == (50 * BALANCED_WORST, 50 * BALANCED_WORST)


@pytest.mark.parametrize("settled_by", ["the replica that authorized", "another replica"])
async def test_a_reservation_grown_anywhere_settles_anywhere_with_its_ledger_entry_and_tokens(
    settled_by, meter, other_meter, budgets, redis_client, clock
):
    await budgets.set(BudgetRule(Scope.TENANT, "acme", "acme", Window.DAILY, 1_000_000))
    await RateLimitBook(redis_client, ["balanced"]).set(
        RateLimitRule(RateScope.TENANT, "acme", "acme", tokens_per_minute=10**6)
    )
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500, request_id="req-1")
    grown = await other_meter.report_usage(reservation.reservation_id, [_balanced(900)])
    assert (grown.within_budget, grown.reserved_micros) == (True, 2_500 + 9_000)

    settler = meter if settled_by == "the replica that authorized" else other_meter
    settlement = await settler.settle(reservation.reservation_id, [_balanced(1_000)])
    assert (settlement.charged_micros, settlement.refunded_micros) == (12_500, 0)
    [(_, entry)] = await redis_client.xrange("sg:ledger")
    fields = {name.decode(): value.decode() for name, value in entry.items()}
    assert {name: fields[name] for name in ("request_id", "reserved_micros_usd", "cost_micros_usd", "buckets")} == {
        "request_id": "req-1",
        "reserved_micros_usd": "11500",
        "cost_micros_usd": "12500",
        "buckets": json.dumps([TENANT_DAY]),
    }
    window = f"sg:rate:tenant:acme:{int(clock() * 1000) // 60_000 * 60_000}"
    assert await redis_client.hget(window, "tokens") == b"2000"

    for replica in (meter, other_meter):
        assert (await _error(replica.settle(reservation.reservation_id, [_balanced(1)]))).reason == (
            "RESERVATION_UNKNOWN"
        )
        assert (await _error(replica.release(reservation.reservation_id))).reason == "RESERVATION_UNKNOWN"


async def test_a_reservation_settled_elsewhere_cannot_be_released_here(meter, other_meter, budgets):
    await budgets.set(BudgetRule(Scope.TENANT, "acme", "acme", Window.DAILY, 1_000_000))
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    await other_meter.settle(reservation.reservation_id, [_balanced(100)])
    assert (await _error(meter.release(reservation.reservation_id))).reason == "RESERVATION_UNKNOWN"
    [state] = await budgets.bucket_states([TENANT_DAY])
    assert (state.spent_micros, state.reserved_micros) == (2_500 + 1_000, 0)


async def test_ids_with_quotes_backslashes_and_non_ascii_reach_the_ledger_and_the_spend_exactly(
    meter, budgets, redis_client, clock
):
    team = 'ré"\\🚀eng'
    principal = Principal("acme", team_id=team, user_id="ユーザー", key_id="key_1")
    await budgets.set(BudgetRule(Scope.TEAM, team, "acme", Window.DAILY, 1_000_000))
    reservation = await meter.authorize(principal, "balanced", 1_000, 500, request_id='id "1"')
    assert [bucket.bucket for bucket in reservation.buckets] == [f"team:acme/{team}:daily:2026-11-29"]
    await meter.settle(reservation.reservation_id, [_balanced(100)])
    [(_, entry)] = await redis_client.xrange("sg:ledger")
    fields = {name.decode(): value.decode() for name, value in entry.items()}
    assert (fields["team_id"], fields["user_id"], fields["request_id"]) == (team, "ユーザー", 'id "1"')
    [row] = await SpendReport(redis_client, clock).report("acme", SpendGroup.TEAM)
    assert (row.group, row.spent_micros, row.requests) == (team, 3_500, 1)


def _held(request_id: str) -> HeldReservation:
    return HeldReservation(ALICE, "fast", request_id, [TENANT_DAY], [1_000], [], 0)


def test_remembered_reservations_are_dropped_past_their_expiry_or_beyond_the_cap():
    recent = RecentHolds(max_entries=3)
    recent.remember("rsv_1", _held("1"), expires_at=100.0, now=0.0)
    recent.remember("rsv_2", _held("2"), expires_at=200.0, now=50.0)
    recent.remember("rsv_3", _held("3"), expires_at=300.0, now=150.0)  # rsv_1 has expired
    assert (recent.get("rsv_1"), len(recent)) == (None, 2)
    recent.remember("rsv_4", _held("4"), expires_at=400.0, now=160.0)
    recent.remember("rsv_5", _held("5"), expires_at=500.0, now=170.0)  # beyond the cap: the oldest goes
    assert [recent.get(f"rsv_{n}") is not None for n in range(2, 6)] == [False, True, True, True]
    assert recent.forget("rsv_4") == _held("4") and recent.forget("rsv_4") is None
