"""The ledger is the record: wiping every bucket and spend counter and rebuilding them from it gives them back."""

from __future__ import annotations

import json

from sluicegate_metering.ledger import LedgerRebuild
from sluicegate_metering.records import BudgetRule, Principal, Scope, UsageCharge, Window
from sluicegate_metering.spend import SpendReport

ALICE = Principal("acme", team_id="eng", user_id="alice", key_id="key_1")
BOB = Principal("globex", key_id="key_2")
COUNTERS = ("sg:bucket:*", "sg:spend:*")


async def _counters(client) -> dict[bytes, dict[str, int]]:
    """Every counter hash with its non-zero values, and whether it expires (lifetime buckets never do)."""
    snapshot = {}
    for pattern in COUNTERS:
        async for key in client.scan_iter(match=pattern):
            values = {field.decode(): int(value) for field, value in (await client.hgetall(key)).items()}
            values = {field: value for field, value in values.items() if value}
            if values.keys() - {"limit"}:
                snapshot[key] = {**values, "expires": await client.ttl(key) > 0}
    return snapshot


async def test_counters_wiped_and_rebuilt_from_the_ledger_are_exactly_the_same(meter, budgets, redis_client, clock):
    for rule in (
        BudgetRule(Scope.TENANT, "acme", "acme", Window.DAILY, 1_000_000),
        BudgetRule(Scope.TEAM, "eng", "acme", Window.MONTHLY, 900_000),
        BudgetRule(Scope.KEY, "key_1", "acme", Window.LIFETIME, 800_000),
        BudgetRule(Scope.TENANT, "globex", "globex", Window.DAILY, 500_000),
    ):
        await budgets.set(rule)
    for principal, model, deployment, completion in (
        (ALICE, "balanced", "mock-balanced", 300),
        (ALICE, "fast", "mock-fast", 50),
        (BOB, "fast", "mock-fast", 900),
    ):
        reservation = await meter.authorize(principal, model, 1_000, 1_000)
        await meter.settle(reservation.reservation_id, [UsageCharge(model, deployment, 1_000, completion)])
    clock.advance(86_400)
    fallback = await meter.authorize(ALICE, "balanced", 2_000, 100)
    await meter.settle(
        fallback.reservation_id,
        [UsageCharge("balanced", "mock-balanced", 2_000, 0), UsageCharge("fast", "mock-fast", 2_000, 100)],
    )
    released = await meter.authorize(ALICE, "fast", 10, 10)
    await meter.release(released.reservation_id)
    await meter.authorize(BOB, "balanced", 500, 500)  # still held: its reservation must be rebuilt too

    before = await _counters(redis_client)
    exported = await SpendReport(redis_client, clock).export("acme", "2026-11-29", "2026-11-30")
    stale = [key for pattern in COUNTERS async for key in redis_client.scan_iter(match=pattern)]
    await redis_client.delete(*stale)
    assert await _counters(redis_client) == {}

    summary = await LedgerRebuild(redis_client).rebuild()
    assert (summary.entries, summary.entries_without_buckets) == (4, 0)
    assert await _counters(redis_client) == before
    assert await SpendReport(redis_client, clock).export("acme", "2026-11-29", "2026-11-30") == exported
    [(_, entry)] = await redis_client.xrevrange("sg:ledger", count=1)
    assert json.loads(entry[b"buckets"]) == [
        "key:key_1:lifetime",
        "team:acme/eng:monthly:2026-11",
        "tenant:acme:daily:2026-11-30",
    ]
