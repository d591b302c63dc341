"""Mid-stream enforcement: ReportUsage grows a stream's reservation while its buckets have room, stops it when
they do not, and keeps a long stream's reservation alive."""

from __future__ import annotations

import asyncio

from sluicegate_metering.records import BudgetRule, Principal, Scope, UsageCharge, Window

ALICE = Principal("acme", key_id="key_1")
TENANT_DAY = "tenant:acme:daily:2026-11-29"
# balanced, 1,000 prompt tokens at $2.50/M + 500 output tokens at $10/M.
BALANCED_WORST = 7_500


def _balanced(completion_tokens: int) -> UsageCharge:
    return UsageCharge("balanced", "mock-balanced", prompt_tokens=1_000, completion_tokens=completion_tokens)


async def _tenant_budget(budgets, limit: int) -> None:
    await budgets.set(BudgetRule(Scope.TENANT, "acme", "acme", Window.DAILY, limit))


async def test_usage_beyond_the_reservation_grows_it_until_the_budget_is_spent(meter, budgets):
    await _tenant_budget(budgets, 20_000)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    inside = await meter.report_usage(reservation.reservation_id, [_balanced(400)])
    assert (inside.within_budget, inside.cost_micros, inside.reserved_micros) == (True, 6_500, BALANCED_WORST)
    grown = await meter.report_usage(reservation.reservation_id, [_balanced(1_500)])
    assert (grown.within_budget, grown.reserved_micros) == (True, 17_500)
    [state] = await budgets.bucket_states([TENANT_DAY])
    assert state.reserved_micros == 17_500
    beyond = await meter.report_usage(reservation.reservation_id, [_balanced(1_751)])
    assert (beyond.within_budget, beyond.cost_micros, beyond.reserved_micros) == (False, 20_010, 17_500)
    # The orchestrator then ends the stream and settles what was delivered; the reservation covered all of it.
    settlement = await meter.settle(reservation.reservation_id, [_balanced(1_751)])
    assert (settlement.charged_micros, settlement.refunded_micros) == (20_010, 0)


async def test_two_streams_cannot_both_use_the_same_room(meter, budgets):
    await _tenant_budget(budgets, 2 * BALANCED_WORST + 5_000)
    first, second = [await meter.authorize(ALICE, "balanced", 1_000, 500) for _ in range(2)]
    # Each stream wants 5,000 micro-USD beyond its reservation; the budget has room for one of them.
    checks = await asyncio.gather(
        *[meter.report_usage(held.reservation_id, [_balanced(1_000)]) for held in (first, second)]
    )
    assert sorted(check.within_budget for check in checks) == [False, True]
    [state] = await budgets.bucket_states([TENANT_DAY])
    assert state.reserved_micros == 2 * BALANCED_WORST + 5_000


async def test_reporting_usage_keeps_a_long_stream_from_expiring(meter, budgets, clock):
    await _tenant_budget(budgets, 100_000)
    reservation = await meter.authorize(ALICE, "balanced", 1_000, 500)
    for _ in range(3):
        clock.advance(500)
        check = await meter.report_usage(reservation.reservation_id, [_balanced(10)])
        assert check.expires_at == clock() + 600
        assert await meter.reclaim_expired() == 0
    assert (await meter.settle(reservation.reservation_id, [_balanced(300)])).charged_micros == 5_500
    clock.advance(601)
    assert await meter.reclaim_expired() == 0
