"""Spend reports: every settled request counted by day, model, team, key and user, largest first."""

from __future__ import annotations

import grpc
import pytest

from sluicegate.runtime.errors import ServiceError
from sluicegate_metering.records import Principal, SpendExportRow, SpendGroup, SpendRow, UsageCharge
from sluicegate_metering.spend import SpendReport, days_between

ALICE = Principal("acme", team_id="eng", user_id="alice", key_id="key_1")
BOB = Principal("acme", team_id="ops", user_id="bob", key_id="key_2")


async def _call(meter, principal: Principal, model: str, deployment: str, prompt: int, completion: int) -> int:
    reservation = await meter.authorize(principal, model, prompt, completion)
    charge = UsageCharge(model, deployment, prompt_tokens=prompt, completion_tokens=completion)
    return (await meter.settle(reservation.reservation_id, [charge])).charged_micros


@pytest.fixture
async def two_days(meter, clock):
    """Day one (2026-11-29): alice calls balanced twice, bob calls fast once. Day two: alice calls fast."""
    costs = [
        await _call(meter, ALICE, "balanced", "mock-balanced", 1_000, 100),
        await _call(meter, ALICE, "balanced", "mock-balanced", 2_000, 100),
        await _call(meter, BOB, "fast", "mock-fast", 1_000, 1_000),
    ]
    clock.advance(86_400)
    costs.append(await _call(meter, ALICE, "fast", "mock-fast", 10_000, 1_000))
    return costs


async def test_spend_by_model_over_a_range_of_days(two_days, redis_client, clock):
    report = SpendReport(redis_client, clock)
    rows = await report.report("acme", SpendGroup.MODEL, "2026-11-29", "2026-11-30")
    assert rows == [
        SpendRow("balanced", 3_500 + 6_000, requests=2, prompt_tokens=3_000, completion_tokens=200),
        SpendRow("fast", 750 + 2_100, requests=2, prompt_tokens=11_000, completion_tokens=2_000),
    ]
    assert sum(row.spent_micros for row in rows) == sum(two_days)


async def test_spend_by_day_and_today_by_default(two_days, redis_client, clock):
    report = SpendReport(redis_client, clock)
    by_day = await report.report("acme", SpendGroup.DAY, "2026-11-28", "2026-11-30")
    assert [(row.group, row.spent_micros, row.requests) for row in by_day] == [
        ("2026-11-29", 3_500 + 6_000 + 750, 3),
        ("2026-11-30", 2_100, 1),
    ]
    today = await report.report("acme", SpendGroup.USER)
    assert [(row.group, row.spent_micros) for row in today] == [("alice", 2_100)]


async def test_spend_by_team_and_key_on_one_day(two_days, redis_client, clock):
    report = SpendReport(redis_client, clock)
    teams = await report.report("acme", SpendGroup.TEAM, "2026-11-29", "2026-11-29")
    assert [(row.group, row.spent_micros) for row in teams] == [("eng", 9_500), ("ops", 750)]
    keys = await report.report("acme", SpendGroup.KEY, "2026-11-29", "2026-11-29")
    assert [(row.group, row.requests) for row in keys] == [("key_1", 2), ("key_2", 1)]
    assert await report.report("globex", SpendGroup.MODEL, "2026-11-29", "2026-11-30") == []


async def test_a_backwards_or_huge_range_is_refused(redis_client, clock):
    report = SpendReport(redis_client, clock)
    for start, end in (("2026-11-30", "2026-11-29"), ("2020-01-01", "2026-11-29")):
        with pytest.raises(ServiceError) as caught:
            await report.report("acme", SpendGroup.DAY, start, end)
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_the_export_has_one_row_per_day_team_key_user_and_model(two_days, redis_client, clock):
    rows = await SpendReport(redis_client, clock).export("acme", "2026-11-29", "2026-11-30")
    assert rows == [
        SpendExportRow("2026-11-29", "acme", "eng", "key_1", "alice", "balanced", 9_500, 2, 3_000, 200),
        SpendExportRow("2026-11-29", "acme", "ops", "key_2", "bob", "fast", 750, 1, 1_000, 1_000),
        SpendExportRow("2026-11-30", "acme", "eng", "key_1", "alice", "fast", 2_100, 1, 10_000, 1_000),
    ]
    assert sum(row.spent_micros for row in rows) == sum(two_days)


def test_a_range_too_long_is_refused_before_its_days_are_listed():
    # 0001-01-01..9999-12-31 is 3.65 million days: listing them first took seconds and hundreds of MB.
    with pytest.raises(ServiceError) as caught:
        days_between("0001-01-01", "9999-12-31")
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert len(days_between("2026-01-01", "2027-01-01")) == 366
